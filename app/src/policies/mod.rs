//! The Policies screen: the list in decision order, the editor with validation, the version
//! history with diffs, and the simulator that explains a decision.

pub mod api;
pub mod forms;
pub mod model;
pub mod pages;
