//! Memories: text that people and agents keep, found again by meaning. This module grows
//! with the memories issue; it starts with the embedding model.

pub mod embeddings;
