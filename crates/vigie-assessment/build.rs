//! Embeds every question file of `methodology/questions/` so that a new domain file is picked up
//! without a code change: writes `$OUT_DIR/embedded_questions.rs`, one `include_str!` per file,
//! sorted by path so that the load order does not depend on the file system.
use std::path::PathBuf;
use std::{env, fs, io};

fn main() -> io::Result<()> {
    let questions_dir = cargo_dir("CARGO_MANIFEST_DIR")?.join("../../methodology/questions");
    // A directory is scanned as a whole: a file added, removed or changed reruns this script.
    println!("cargo::rerun-if-changed={}", questions_dir.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(&questions_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            files.push(path);
        }
    }
    files.sort();
    let mut code = format!("const EMBEDDED_QUESTIONS: [(&str, &str); {}] = [\n", files.len());
    for path in &files {
        let name = format!("questions/{}", path.file_name().unwrap_or_default().to_string_lossy());
        let absolute = fs::canonicalize(path)?.display().to_string();
        // `{:?}` writes a Rust string literal, escapes included.
        code.push_str(&format!("    ({name:?}, include_str!({absolute:?})),\n"));
    }
    code.push_str("];\n");
    fs::write(cargo_dir("OUT_DIR")?.join("embedded_questions.rs"), code)
}

/// A directory Cargo passes to every build script.
fn cargo_dir(variable: &str) -> io::Result<PathBuf> {
    env::var_os(variable).map(PathBuf::from).ok_or_else(|| io::Error::other(format!("{variable} is not set")))
}
