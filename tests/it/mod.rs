mod balance;
mod dedup;
mod diff;
mod errors;
mod pipelines;
mod schemas;
mod sharding;
mod spine;
pub mod util;
