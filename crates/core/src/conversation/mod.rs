//! Conversation analysis and routing (SPEC §10): explicit and semantic branches of a
//! conversation, the LLM branch parser and the router that decides when to call it.

mod analyzer;
mod llm_parser;
mod router;

pub use analyzer::{
    ConversationAnalysis, ConversationAnalyzer, ConversationGraph, ConversationStatistics, GraphEdge, GraphNode,
    SemanticBranch, SemanticType, Turn,
};
pub use llm_parser::{LlmBranchParser, LlmParseError, OnParseFailure, SYSTEM_PROMPT as LLM_PARSER_SYSTEM_PROMPT};
pub use router::{AutoRouter, HeuristicScores, Routed, Router, RouterDecision};
