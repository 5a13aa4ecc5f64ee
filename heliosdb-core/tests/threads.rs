//! Handles cross threads: the SQL and network layers move them between tasks.
fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}
#[test]
fn handles_cross_threads() {
    is_send::<heliosdb_core::Database>();
    is_sync::<heliosdb_core::Database>();
    is_send::<heliosdb_core::ReadTxn>();
    is_send::<heliosdb_core::WriteTxn>();
}
