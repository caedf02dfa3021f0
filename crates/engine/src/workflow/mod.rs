//! Workflow files: the YAML format, `${var}` substitution, validation, and the loaded model.

pub mod cache;
mod load;
pub mod model;
pub mod vars;

pub use load::{LoadOptions, is_node_name, load, load_str, parse_memory};
pub use model::{InputBinding, Node, NodeId, Publish, Source, Workflow};
