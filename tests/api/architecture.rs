//! The house's rules, read from the source: dependencies between the
//! crate's top-level modules point one way (no cycle), and the session
//! layer never imports the lab (the lab is added from outside, in
//! `app.rs`). `ARCHITECTURE.md` explains both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Top-level module → the top-level modules its files name through
/// `crate::` paths (`use crate::a::b`, `use crate::{a, b::c}`,
/// `crate::a::f()`), comments left out. `lib.rs` (the module list) and
/// `main.rs` (the binary, outside the library) are not modules.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(Path::new(SRC)) {
        let relative = file.strip_prefix(SRC).expect("below src");
        let first = relative
            .components()
            .next()
            .and_then(|part| part.as_os_str().to_str())
            .expect("a path");
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let imports = graph.entry(module.clone()).or_default();
        for name in crate_paths(&without_comments(&text)) {
            if name != module {
                imports.insert(name);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The text without `//` comments (doc comments included), so that a
/// comment naming a module is not an import.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // `"http://…"` in a string keeps its line up to the comment
            // marker, which holds no `crate::` path in this crate.
            Some(cut) => &line[..cut],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every `crate::` path, groups expanded.
fn crate_paths(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `my_crate::…`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The items of the group, split at its own commas, not at the
            // commas of groups nested in it.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            names.push(first_segment(&item));
            names.retain(|name| !name.is_empty());
        } else {
            let first = first_segment(rest);
            if !first.is_empty() {
                names.push(first);
            }
        }
    }
    names
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// A cycle of the graph, if it has one (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let graph = module_graph();

    // The reader must see real edges, or the test proves nothing.
    assert!(graph["app"].contains("session"), "{graph:#?}");
    assert!(graph["session"].contains("store"), "{graph:#?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("an import cycle: {}\n{graph:#?}", cycle.join(" → "));
    }
}

#[test]
fn the_session_layer_never_imports_the_lab() {
    let graph = module_graph();

    for low in [
        "session", "store", "security", "error", "cookies", "instance",
    ] {
        assert!(
            !graph
                .get(low)
                .is_some_and(|imports| imports.contains("lab")),
            "{low} imports the lab: {:?}",
            graph[low]
        );
    }
}

#[test]
fn the_leaves_import_nothing_of_the_crate_but_limits() {
    let graph = module_graph();

    for leaf in [
        "error",
        "instance",
        "limits",
        "cookies",
        "token",
        "unix_time",
    ] {
        let imports: Vec<&String> = graph[leaf]
            .iter()
            .filter(|name| name.as_str() != "limits")
            .collect();
        assert!(imports.is_empty(), "{leaf} imports {imports:?}");
    }
}

#[test]
fn the_reader_finds_grouped_and_inline_paths_and_cycles() {
    let text = "use crate::{a, b::{c, d}};\nlet x = crate::e::f(); // crate::g\nmy_crate::h";

    let found = crate_paths(&without_comments(text));

    assert_eq!(found, ["a", "b", "e"]);
    let mut graph = BTreeMap::new();
    graph.insert("x".to_owned(), BTreeSet::from(["y".to_owned()]));
    graph.insert("y".to_owned(), BTreeSet::from(["x".to_owned()]));
    assert_eq!(find_cycle(&graph).expect("a cycle"), ["x", "y", "x"]);
}
