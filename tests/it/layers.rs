//! The library's layering: each module uses only modules below it, so there
//! is no import cycle and no module reaches up. The order is the one
//! `src/lib.rs` documents.

/// Top-level modules, from the face down; modules on one line are peers and
/// use neither each other nor anything above them.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["report"],
    &["cluster"],
    &["pipeline", "explain", "query"],
    &["plan"],
    &["spec"],
    &["stage"],
    &["gpu"],
    &["version"],
    &["source", "spill"],
    &["store"],
    &["par", "size"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `crate::name` references in the code (comments left out).
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, name));
        }
    }
    out
}

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_reaches_up() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut upward = Vec::new();
    let mut seen = 0;
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let own = layer(&top).unwrap_or_else(|| panic!("src/lib.rs's layers do not name `{top}`"));
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, name) in references(&text) {
            seen += 1;
            match layer(&name) {
                Some(l) if l <= own && name != top => {
                    upward.push(format!("{}:{line}: {top} uses {name}", rel.display()))
                }
                _ => {}
            }
        }
    }
    assert!(seen > 100, "the scan found the crate's references ({seen})");
    assert!(
        upward.is_empty(),
        "modules reaching up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_module_map_names_every_module_and_layer() {
    let lib =
        std::fs::read_to_string(format!("{}/src/lib.rs", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(modules.len() > 5, "{modules:?}");
    for m in modules {
        assert!(
            lib.contains(&format!("[`{m}`]")),
            "src/lib.rs's module map does not name `{m}`"
        );
        assert!(
            layer(m).is_some(),
            "tests/it/layers.rs does not place `{m}` in a layer"
        );
    }
}
