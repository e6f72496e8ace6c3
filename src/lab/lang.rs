//! The learner's language: `--lang`, else the locale the environment names
//! (`LC_ALL`, then `LC_MESSAGES`, then `LANG`, the order POSIX gives them),
//! else English.
//!
//! Locales name Chinese by region (`zh_CN`, `zh_TW`) or by script
//! (`zh_Hans`, `zh-Hant`); both map to the script the labs are written in.

use std::fmt;

/// A language the workshop is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhHans,
    ZhHant,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::ZhHans, Lang::ZhHant];

    /// The tag `--lang` takes and the workshop's directories are named by.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhHans => "zh-Hans",
            Lang::ZhHant => "zh-Hant",
        }
    }

    /// `--lang`'s parser: exactly one of the tags (clap names the flag in
    /// its error and exits 2).
    pub fn parse_flag(raw: &str) -> Result<Lang, String> {
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| format!("{raw:?} is not one of en, zh-Hans, zh-Hant"))
    }

    /// The language a locale such as `zh_TW.UTF-8` names; English for
    /// anything that is not Chinese (`C`, `POSIX`, `de_DE`...).
    pub fn from_locale(locale: &str) -> Lang {
        // `zh_CN.UTF-8@euro` -> `zh_CN`; `zh-Hant-TW` -> zh, hant, tw.
        let name = locale.split(['.', '@']).next().unwrap_or_default();
        let mut parts = name.split(['_', '-']).map(str::to_ascii_lowercase);
        if parts.next().as_deref() != Some("zh") {
            return Lang::En;
        }
        for part in parts {
            match part.as_str() {
                "hant" | "tw" | "hk" | "mo" => return Lang::ZhHant,
                "hans" | "cn" | "sg" => return Lang::ZhHans,
                _ => {}
            }
        }
        // Plain `zh`: most Chinese readers read the simplified script.
        Lang::ZhHans
    }

    /// `--lang` if given, else the first of `LC_ALL`, `LC_MESSAGES`, `LANG`
    /// that is set and not empty (`var` reads one variable).
    pub fn choose(flag: Option<Lang>, var: impl Fn(&str) -> Option<String>) -> Lang {
        flag.unwrap_or_else(|| {
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .into_iter()
                .find_map(|name| var(name).filter(|v| !v.trim().is_empty()))
                .map_or(Lang::En, |locale| Lang::from_locale(&locale))
        })
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn locales_map_to_the_script_they_are_written_in() {
        for (locale, lang) in [
            ("zh_CN.UTF-8", Lang::ZhHans),
            ("zh_SG", Lang::ZhHans),
            ("zh_Hans", Lang::ZhHans),
            ("zh-Hans-CN", Lang::ZhHans),
            ("zh", Lang::ZhHans),
            ("zh_TW.UTF-8", Lang::ZhHant),
            ("zh_HK", Lang::ZhHant),
            ("zh_MO.UTF-8@x", Lang::ZhHant),
            ("zh-Hant", Lang::ZhHant),
            ("en_US.UTF-8", Lang::En),
            ("de_DE", Lang::En),
            ("C", Lang::En),
            ("POSIX", Lang::En),
            ("", Lang::En),
        ] {
            assert_eq!(Lang::from_locale(locale), lang, "{locale}");
        }
    }

    #[test]
    fn the_flag_wins_then_lc_all_then_lc_messages_then_lang() {
        let all = [
            ("LC_ALL", "zh_TW.UTF-8"),
            ("LC_MESSAGES", "en_US.UTF-8"),
            ("LANG", "zh_CN.UTF-8"),
        ];
        assert_eq!(Lang::choose(Some(Lang::En), env(&all)), Lang::En);
        assert_eq!(Lang::choose(None, env(&all)), Lang::ZhHant);
        assert_eq!(Lang::choose(None, env(&all[1..])), Lang::En);
        assert_eq!(Lang::choose(None, env(&all[2..])), Lang::ZhHans);
        // Set but empty does not count, as in POSIX.
        let empty = [("LC_ALL", ""), ("LANG", "zh_HK")];
        assert_eq!(Lang::choose(None, env(&empty)), Lang::ZhHant);
        assert_eq!(Lang::choose(None, env(&[])), Lang::En);
    }

    #[test]
    fn the_flag_takes_exactly_the_three_tags() {
        assert_eq!(Lang::parse_flag("zh-Hans"), Ok(Lang::ZhHans));
        assert_eq!(Lang::parse_flag("zh-hant"), Ok(Lang::ZhHant));
        assert_eq!(Lang::parse_flag("en"), Ok(Lang::En));
        for bad in ["fr", "zh", "zh_CN", ""] {
            assert!(Lang::parse_flag(bad).is_err(), "{bad}");
        }
    }
}
