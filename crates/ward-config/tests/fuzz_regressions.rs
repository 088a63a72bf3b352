//! Inputs the `config` fuzz target (fuzz/fuzz_targets/config.rs) found, minimised, each
//! with what it broke. The target's invariants, checked here for these inputs.

use ward_config::Config;

/// Every error of a file that is not blank has a line, also in a file of only comments
/// (it has no YAML node to point at; the errors were missing fields, without a line).
#[test]
fn a_file_of_only_comments_has_errors_with_lines() {
    for text in ["#", "# Ward's default\n", "# one\n\n# two\n"] {
        let err = Config::from_yaml(text).unwrap_err();
        assert!(!err.errors().is_empty());
        for e in err.errors() {
            assert_eq!(e.line(), Some(1), "{text:?}: {e}");
        }
    }
}

/// The YAML parser (libyaml, YAML 1.1) breaks lines at NEL, LS and PS as well as at CR
/// and LF, and its error lines count them: the target's bound counted only CR and LF.
#[test]
fn a_syntax_error_after_unicode_line_breaks_is_on_a_line_yaml_counts() {
    for (text, line) in [("|\n'\u{85}\u{85}", 4), ("|\n'\u{2028}\u{2029}", 4)] {
        let err = Config::from_yaml(text).unwrap_err();
        let lines: Vec<_> = err.errors().iter().map(|e| e.line()).collect();
        assert_eq!(lines, [Some(line)], "{text:?}: {err}");
    }
}
