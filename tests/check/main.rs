//! Integration tests of `wfc check`.
