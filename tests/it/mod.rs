mod balance;
mod dedup;
mod errors;
mod pipelines;
mod schemas;
mod sharding;
mod spine;
pub mod util;
