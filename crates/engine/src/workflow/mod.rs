//! Workflow files: the YAML format, `${var}` substitution, validation, and the loaded model.

pub mod cache;
pub mod cluster;
mod load;
pub mod model;
mod template;
pub mod vars;

pub use load::{
    InputPaths, LoadOptions, MAX_NODE_NAME, check_publish_path, is_node_name, load, load_str, parse_memory,
    read_workflow_text, resolve_path,
};
pub use model::{
    ClusterDefaults, EXECUTORS, InputBinding, Node, NodeId, Placement, Publish, Source, Workflow, time_minutes,
};
