//! Rebuilds the crate when anything under `static/` changes, files added or
//! removed included: `src/assets.rs` embeds that folder, and without this
//! cargo would notice only edits to the files it embedded last time.

fn main() {
    println!("cargo::rerun-if-changed=static");
}
