//! The texts `tracemesh lab` prints, in the learner's language: flat
//! `key: text` maps in `workshop/messages/<lang>.yaml`, embedded in the
//! binary. `{name}` in a text is filled by [`Messages::fill`].
//!
//! zh-Hant.yaml is generated from zh-Hans.yaml (OpenCC s2twp); English is
//! the fallback for a key a translation lacks, and the key itself the last
//! resort, so a gap never panics in front of a learner. The tests below
//! make any gap a test failure instead: every key the code uses is in
//! en.yaml, and every key of en.yaml is in the other two.

use std::collections::BTreeMap;

use super::lang::Lang;

const EN: &str = include_str!("../../workshop/messages/en.yaml");
const ZH_HANS: &str = include_str!("../../workshop/messages/zh-Hans.yaml");
const ZH_HANT: &str = include_str!("../../workshop/messages/zh-Hant.yaml");

fn source(lang: Lang) -> &'static str {
    match lang {
        Lang::En => EN,
        Lang::ZhHans => ZH_HANS,
        Lang::ZhHant => ZH_HANT,
    }
}

/// One language's texts, English behind them.
#[derive(Debug)]
pub struct Messages {
    lang: Lang,
    texts: BTreeMap<String, String>,
    english: BTreeMap<String, String>,
}

impl Messages {
    pub fn new(lang: Lang) -> Messages {
        Messages {
            lang,
            texts: parse(source(lang)).unwrap_or_default(),
            english: parse(EN).unwrap_or_default(),
        }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The text of `key`.
    pub fn t(&self, key: &str) -> String {
        self.texts
            .get(key)
            .or_else(|| self.english.get(key))
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// The text of `key` with each `{name}` replaced by its value.
    pub fn f(&self, key: &str, values: &[(&str, &str)]) -> String {
        values.iter().fold(self.t(key), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
    }
}

fn parse(text: &str) -> Result<BTreeMap<String, String>, serde_yaml::Error> {
    serde_yaml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the code asks for: the string literal right after `.t(`
    /// or `.f(` in the lab's sources (read at test time, so a new call is
    /// covered without a list to keep).
    fn keys_used() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lab");
        let mut files = vec![root.clone()];
        let mut keys = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for call in [".t(\"", ".f(\""] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    // Keys built at run time (`format!`) are checked by the
                    // catalogue test instead.
                    if !key.contains('{') {
                        keys.push((path.display().to_string(), key.to_owned()));
                    }
                }
            }
        }
        assert!(keys.len() > 50, "found only {} message keys", keys.len());
        keys
    }

    #[test]
    fn every_catalogue_parses_as_a_flat_map() {
        for lang in Lang::ALL {
            let texts = parse(source(lang)).unwrap_or_else(|e| panic!("{lang}.yaml: {e}"));
            assert!(!texts.is_empty(), "{lang}.yaml is empty");
        }
    }

    #[test]
    fn every_key_the_code_uses_is_in_english() {
        let english = parse(EN).unwrap();
        let missing: Vec<_> = keys_used()
            .into_iter()
            .filter(|(_, key)| !english.contains_key(key))
            .collect();
        assert!(missing.is_empty(), "not in en.yaml: {missing:#?}");
    }

    #[test]
    fn every_english_key_is_in_every_language() {
        let english = parse(EN).unwrap();
        for lang in [Lang::ZhHans, Lang::ZhHant] {
            let texts = parse(source(lang)).unwrap();
            let missing: Vec<_> = english.keys().filter(|k| !texts.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang}.yaml lacks {missing:?}");
            let extra: Vec<_> = texts.keys().filter(|k| !english.contains_key(*k)).collect();
            assert!(
                extra.is_empty(),
                "{lang}.yaml has keys en.yaml lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn every_placeholder_of_a_text_is_in_its_translations() {
        let english = parse(EN).unwrap();
        let names = |text: &str| {
            let mut names: Vec<String> = text
                .split('{')
                .skip(1)
                .filter_map(|s| s.split_once('}').map(|(n, _)| n.to_owned()))
                .collect();
            names.sort();
            names
        };
        for lang in [Lang::ZhHans, Lang::ZhHant] {
            let texts = parse(source(lang)).unwrap();
            for (key, text) in &english {
                if let Some(translated) = texts.get(key) {
                    assert_eq!(names(translated), names(text), "{lang}.yaml {key}");
                }
            }
        }
    }

    #[test]
    fn a_missing_key_falls_back_to_english_then_to_the_key() {
        // Through a variable: the scan above must not take it for a key in use.
        let missing = "no.such.key";
        let m = Messages::new(Lang::ZhHans);
        assert_eq!(m.t(missing), missing);
        let m = Messages::new(Lang::En);
        assert_eq!(m.f("list.header", &[]), m.t("list.header"));
    }
}
