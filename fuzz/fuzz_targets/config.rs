//! Fuzzes the config loader: arbitrary bytes (as UTF-8, lossily) through
//! `Config::from_yaml`, the parse and validation `ward validate`, `ward serve` and
//! `PUT /api/v1/config` run.
//!
//! Beyond "does not panic", what the loader promises must hold for any input: a refused
//! config has at least one error, each renders with `Display`, and in a file that is not
//! blank each has a line within the file; an accepted config passes `Config::validate`
//! (what API writes check) and `to_yaml` writes it so that `from_yaml` reads back the
//! same config (the admin API saves configs that way, and the file watcher reads them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_config::Config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Config::from_yaml(&text) {
        Err(e) => {
            assert!(!e.errors().is_empty(), "refused without an error");
            assert!(!e.to_string().is_empty());
            // Lines as YAML 1.1 (libyaml) counts them: a lone CR breaks a line too, and so
            // do NEL, LS and PS; an error at the end of a file without a final line break
            // is on the line after.
            let text_lf = text.replace("\r\n", "\n");
            let lines = 1 + text_lf
                .matches(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
                .count();
            for err in e.errors() {
                assert!(!err.to_string().is_empty());
                if text.trim().is_empty() {
                    continue;
                }
                match err.line() {
                    Some(line) => assert!(
                        (1..=lines + 1).contains(&line),
                        "line {line} of {lines}: {err}"
                    ),
                    None => panic!("an error without a line: {err}"),
                }
            }
        }
        Ok(config) => {
            if let Err(e) = config.validate() {
                panic!("accepted from YAML, refused by validate: {e}");
            }
            let yaml = config.to_yaml();
            match Config::from_yaml(&yaml) {
                Ok(back) => assert!(back == config, "to_yaml changed the config:\n{yaml}"),
                Err(e) => panic!("to_yaml wrote a config from_yaml refuses: {e}\n{yaml}"),
            }
        }
    }
});
