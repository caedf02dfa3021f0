//! flow's built-in node kinds, one file each. Each is a thin wrapper: parameters and ports
//! here, the real work in a library crate (or, for `shell`, in the command it runs).

use std::sync::Arc;

use flow_engine::kind::Registry;

pub mod shell;

/// A registry holding every built-in kind.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(shell::Shell));
    registry
}
