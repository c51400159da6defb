//! Integration tests: they drive the `sift` binary (and, for sharding
//! properties, the library) against temporary stores.

mod it;
