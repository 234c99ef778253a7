// Generated from the grammar in parser.ts by chevrotain's generateCstDts; do not edit by hand.
// Regenerate with UPDATE_CST_TYPES=1 npx vitest run test/parser/cst-types.test.ts (the test fails when stale).
import type { CstNode, ICstVisitor, IToken } from "chevrotain";

export interface FileCstNode extends CstNode {
  name: "file";
  children: FileCstChildren;
}

export type FileCstChildren = {
  model?: ModelCstNode[];
  plan?: PlanCstNode[];
};

export interface ModelCstNode extends CstNode {
  name: "model";
  children: ModelCstChildren;
}

export type ModelCstChildren = {
  Model: IToken[];
  name: IToken[];
  LBrace: IToken[];
  items?: ModelItemCstNode[];
  Semicolon?: IToken[];
  RBrace: IToken[];
};

export interface ModelItemCstNode extends CstNode {
  name: "modelItem";
  children: ModelItemCstChildren;
}

export type ModelItemCstChildren = {
  configBlock?: ConfigBlockCstNode[];
  inputDecl?: InputDeclCstNode[];
  memoryDecl?: MemoryDeclCstNode[];
  blockDecl?: BlockDeclCstNode[];
  outputDecl?: OutputDeclCstNode[];
  assign?: AssignCstNode[];
};

export interface ConfigBlockCstNode extends CstNode {
  name: "configBlock";
  children: ConfigBlockCstChildren;
}

export type ConfigBlockCstChildren = {
  Config: IToken[];
  LBrace: IToken[];
  entries?: ConfigEntryCstNode[];
  Semicolon?: IToken[];
  RBrace: IToken[];
};

export interface ConfigEntryCstNode extends CstNode {
  name: "configEntry";
  children: ConfigEntryCstChildren;
}

export type ConfigEntryCstChildren = {
  name: IToken[];
  Equals: IToken[];
  value: ExprCstNode[];
};

export interface InputDeclCstNode extends CstNode {
  name: "inputDecl";
  children: InputDeclCstChildren;
}

export type InputDeclCstChildren = {
  Input: IToken[];
  name: IToken[];
  Colon: IToken[];
  type: TensorTypeCstNode[];
};

export interface TensorTypeCstNode extends CstNode {
  name: "tensorType";
  children: TensorTypeCstChildren;
}

export type TensorTypeCstChildren = {
  dtype: IToken[];
  LBracket: IToken[];
  dims?: (ExprCstNode)[];
  Comma?: IToken[];
  RBracket: IToken[];
};

export interface MemoryDeclCstNode extends CstNode {
  name: "memoryDecl";
  children: MemoryDeclCstChildren;
}

export type MemoryDeclCstChildren = {
  Memory: IToken[];
  name: IToken[];
  LBracket?: IToken[];
  count?: ExprCstNode[];
  RBracket?: IToken[];
  Colon: IToken[];
  type: TensorTypeCstNode[];
};

export interface BlockDeclCstNode extends CstNode {
  name: "blockDecl";
  children: BlockDeclCstChildren;
}

export type BlockDeclCstChildren = {
  Block: IToken[];
  name: IToken[];
  LParen: IToken[];
  params?: (BlockParamCstNode)[];
  Comma?: IToken[];
  RParen: IToken[];
  LBrace: IToken[];
  body?: StatementCstNode[];
  Semicolon?: IToken[];
  RBrace: IToken[];
};

export interface BlockParamCstNode extends CstNode {
  name: "blockParam";
  children: BlockParamCstChildren;
}

export type BlockParamCstChildren = {
  name: IToken[];
  Equals?: IToken[];
  default?: ExprCstNode[];
};

export interface StatementCstNode extends CstNode {
  name: "statement";
  children: StatementCstChildren;
}

export type StatementCstChildren = {
  assign?: AssignCstNode[];
  returnStatement?: ReturnStatementCstNode[];
};

export interface AssignCstNode extends CstNode {
  name: "assign";
  children: AssignCstChildren;
}

export type AssignCstChildren = {
  target: IToken[];
  Equals: IToken[];
  value: ExprCstNode[];
};

export interface ReturnStatementCstNode extends CstNode {
  name: "returnStatement";
  children: ReturnStatementCstChildren;
}

export type ReturnStatementCstChildren = {
  Return: IToken[];
  value: ExprCstNode[];
};

export interface OutputDeclCstNode extends CstNode {
  name: "outputDecl";
  children: OutputDeclCstChildren;
}

export type OutputDeclCstChildren = {
  Output: IToken[];
  name: IToken[];
  Equals: IToken[];
  value: ExprCstNode[];
};

export interface PlanCstNode extends CstNode {
  name: "plan";
  children: PlanCstChildren;
}

export type PlanCstChildren = {
  Plan: IToken[];
  name: IToken[];
  For?: IToken[];
  model?: IToken[];
  LBrace: IToken[];
  planBody: PlanBodyCstNode[];
  RBrace: IToken[];
};

export interface PlanBodyCstNode extends CstNode {
  name: "planBody";
  children: PlanBodyCstChildren;
}

export type PlanBodyCstChildren = {
  NotBrace?: IToken[];
  LBrace?: IToken[];
  planBody?: PlanBodyCstNode[];
  RBrace?: IToken[];
};

export interface ExprCstNode extends CstNode {
  name: "expr";
  children: ExprCstChildren;
}

export type ExprCstChildren = {
  operands: (OperandCstNode)[];
  operators?: IToken[];
};

export interface OperandCstNode extends CstNode {
  name: "operand";
  children: OperandCstChildren;
}

export type OperandCstChildren = {
  prefixes?: IToken[];
  NumberLiteral?: IToken[];
  StringLiteral?: IToken[];
  True?: IToken[];
  False?: IToken[];
  Identifier?: IToken[];
  parenthesized?: ParenthesizedCstNode[];
  list?: ListCstNode[];
  repeatCall?: RepeatCallCstNode[];
  maskLambda?: MaskLambdaCstNode[];
  suffixes?: SuffixCstNode[];
};

export interface SuffixCstNode extends CstNode {
  name: "suffix";
  children: SuffixCstChildren;
}

export type SuffixCstChildren = {
  LParen?: IToken[];
  args?: ArgumentListCstNode[];
  RParen?: IToken[];
  Dot?: IToken[];
  member?: IToken[];
  LBracket?: IToken[];
  items?: (IndexItemCstNode)[];
  Comma?: IToken[];
  RBracket?: IToken[];
  TransposeOp?: IToken[];
};

export interface IndexItemCstNode extends CstNode {
  name: "indexItem";
  children: IndexItemCstChildren;
}

export type IndexItemCstChildren = {
  Ellipsis?: IToken[];
  Colon?: (IToken)[];
  tail?: (SliceTailCstNode)[];
  start?: ExprCstNode[];
};

export interface SliceTailCstNode extends CstNode {
  name: "sliceTail";
  children: SliceTailCstChildren;
}

export type SliceTailCstChildren = {
  end?: ExprCstNode[];
  Colon?: IToken[];
  step?: ExprCstNode[];
};

export interface ArgumentListCstNode extends CstNode {
  name: "argumentList";
  children: ArgumentListCstChildren;
}

export type ArgumentListCstChildren = {
  args: (ArgumentCstNode)[];
  Comma?: IToken[];
};

export interface ArgumentCstNode extends CstNode {
  name: "argument";
  children: ArgumentCstChildren;
}

export type ArgumentCstChildren = {
  name?: IToken[];
  Colon?: IToken[];
  value?: (ExprCstNode)[];
};

export interface ParenthesizedCstNode extends CstNode {
  name: "parenthesized";
  children: ParenthesizedCstChildren;
}

export type ParenthesizedCstChildren = {
  LParen: IToken[];
  inner: ExprCstNode[];
  RParen: IToken[];
};

export interface ListCstNode extends CstNode {
  name: "list";
  children: ListCstChildren;
}

export type ListCstChildren = {
  LBracket: IToken[];
  items?: (ExprCstNode)[];
  Comma?: IToken[];
  RBracket: IToken[];
};

export interface RepeatCallCstNode extends CstNode {
  name: "repeatCall";
  children: RepeatCallCstChildren;
}

export type RepeatCallCstChildren = {
  Repeat: IToken[];
  LParen: (IToken)[];
  count: ExprCstNode[];
  RParen: (IToken)[];
  Shared?: IToken[];
  As?: IToken[];
  index?: IToken[];
  block: IToken[];
  args?: ArgumentListCstNode[];
};

export interface MaskLambdaCstNode extends CstNode {
  name: "maskLambda";
  children: MaskLambdaCstChildren;
}

export type MaskLambdaCstChildren = {
  Mask: IToken[];
  LParen: IToken[];
  params: (IToken)[];
  Comma?: IToken[];
  RParen: IToken[];
  Arrow: IToken[];
  body: ExprCstNode[];
};

