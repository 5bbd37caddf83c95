//! Rebuild when the embedded fixtures change (include_dir! does not track them).
fn main() {
    println!("cargo:rerun-if-changed=../../fixtures/webex-calling");
    println!("cargo:rerun-if-changed=build.rs");
}
