mod errors;
mod schemas;
mod sharding;
mod spine;
pub mod util;
