//! Placeholder: the cooperation benchmark is being written.
fn main() {}
