//! The `tenantry` server: configuration, the HTTP pipeline, the REST API, the console host,
//! background workers and the embedded PostgreSQL. Business rules live in `service`.

pub mod config;
pub mod database;
pub mod embedded_pg;
pub mod limits;
pub mod logout;
pub mod middleware;
pub mod nul;
pub mod oidc;
pub mod ops;
pub mod renderers;
pub mod rest;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;
