//! Embeds the workshop's lab markdown into the binary, so `tracemesh lab
//! show N` works from any directory.
//!
//! Only the files that exist are embedded: the labs are written language by
//! language, and a missing `include_str!` would not compile. The generated
//! table (`$OUT_DIR/lab_markdown.rs`) lists `(language, lab number, file name, text)`
//! for every `workshop/<language>/NN-<slug>.md`; `src/lab/mod.rs` reads it
//! and says so honestly when a lab is not written in a language yet.

use std::fmt::Write as _;
use std::path::Path;

const LANGUAGES: [&str; 3] = ["en", "zh-Hans", "zh-Hant"];

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let workshop = Path::new(&root).join("workshop");
    // A directory makes cargo look at every file under it, new ones included.
    println!("cargo:rerun-if-changed={}", workshop.display());
    let mut table = String::from("pub static MARKDOWN: &[(&str, u8, &str, &str)] = &[\n");
    for language in LANGUAGES {
        let Ok(entries) = std::fs::read_dir(workshop.join(language)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // `01-first-trace.md`: two digits, a dash, the slug.
            let Some(number) = name
                .strip_suffix(".md")
                .and_then(|stem| {
                    stem.get(..2)
                        .filter(|_| stem.as_bytes().get(2) == Some(&b'-'))
                })
                .and_then(|digits| digits.parse::<u8>().ok())
            else {
                continue;
            };
            writeln!(
                table,
                "    ({language:?}, {number}, {name:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .expect("writing to a String");
        }
    }
    table.push_str("];\n");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("lab_markdown.rs"), table).expect("OUT_DIR is writable");
}
