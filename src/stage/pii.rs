//! The pii stage: replaces personal data in a text column with placeholders.
//!
//! Entities are found by regular expression and then checked, and each is
//! replaced in its own pass over the text, in this order: url, email, ipv4,
//! ipv6, credit_card, iban, phone (so an address inside a URL goes with the
//! URL). With `entities = ["email", "ipv4"]` the result equals datatrove's
//! `PIIFormatter` given one replacement each: the same email expression,
//! the same IPv4 expression, and public addresses only, as Python's
//! `ipaddress.is_global` defines them.
//!
//! | entity | found by | checked by |
//! |---|---|---|
//! | `email` | datatrove's expression (RFC 5322 local part) | — |
//! | `ipv4` | datatrove's expression (no word boundary) | parses; public only (`public_only`) |
//! | `ipv6` | hex groups and colons, not inside a word | parses; public only |
//! | `phone` | `+` country code, `(555) 123-4567`, `555-123-4567`, trunk `0…` | digit count (8–15 after `+`, 10 for North American, 9–12 after `0`) |
//! | `credit_card` | 13–19 digits, spaces or dashes between | Luhn checksum, issuer digit 2–6 |
//! | `iban` | country, check digits, 11–30 letters or digits | length of its country, mod-97 checksum |
//! | `url` | `http://`, `https://` or `www.` up to a space | trailing punctuation left out |

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::transform::{self, Edit, Fate, TextRewrite};
use super::{Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError};
use crate::version::selection::SelectionSet;

/// A pii stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column to redact.
    #[serde(default = "super::text_column")]
    pub column: String,
    /// What to find (default: every entity but `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Entity>>,
    /// `replace` puts a placeholder in place of each entity; `mask` keeps its
    /// length and punctuation and turns its letters and digits into `*`.
    #[serde(default)]
    pub mode: Mode,
    /// Placeholders by entity (default `<EMAIL>`, `<IP_ADDRESS>`, `<PHONE>`,
    /// `<CREDIT_CARD>`, `<IBAN>`, `<URL>`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub replace: IndexMap<String, String>,
    /// Replace only public IP addresses, keeping private and reserved ranges
    /// (`10.0.0.1`, `127.0.0.1`, `fe80::1`), as datatrove does.
    #[serde(default = "super::yes")]
    pub public_only: bool,
}

/// A kind of personal data.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Url,
    Email,
    Ipv4,
    Ipv6,
    CreditCard,
    Iban,
    Phone,
}

impl Entity {
    /// Every entity, in the order the passes run.
    const ALL: [Entity; 7] = [
        Entity::Url,
        Entity::Email,
        Entity::Ipv4,
        Entity::Ipv6,
        Entity::CreditCard,
        Entity::Iban,
        Entity::Phone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Entity::Url => "url",
            Entity::Email => "email",
            Entity::Ipv4 => "ipv4",
            Entity::Ipv6 => "ipv6",
            Entity::CreditCard => "credit_card",
            Entity::Iban => "iban",
            Entity::Phone => "phone",
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            Entity::Url => "<URL>",
            Entity::Email => "<EMAIL>",
            Entity::Ipv4 | Entity::Ipv6 => "<IP_ADDRESS>",
            Entity::CreditCard => "<CREDIT_CARD>",
            Entity::Iban => "<IBAN>",
            Entity::Phone => "<PHONE>",
        }
    }

    fn regex(self) -> &'static Regex {
        match self {
            Entity::Url => &URL,
            Entity::Email => &EMAIL,
            Entity::Ipv4 => &IPV4,
            Entity::Ipv6 => &IPV6,
            Entity::CreditCard => &CARD,
            Entity::Iban => &IBAN,
            Entity::Phone => &PHONE,
        }
    }
}

/// What replaces an entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Replace,
    Mask,
}

/// datatrove's email expression (`PIIFormatter`).
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:[",
        r"A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|[",
        r"01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)\])",
    ))
    .expect("the email expression compiles")
});

/// datatrove's IPv4 expression.
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)")
        .expect("the IPv4 expression compiles")
});

static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)?").expect("compiles")
});

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,5}",
        r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}",
        r"|\d{3}[ .-]\d{3}[ .-]\d{4}",
        r"|0\d{1,4}[ /.-]?\d{2,4}(?:[ .-]?\d{2,4}){1,3}",
    ))
    .expect("the phone expression compiles")
});

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d(?:[ -]?\d){12,18}").expect("compiles"));

static IBAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}").expect("compiles"));

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.)[^\s<>"'`{}|\\^\[\]]+"#)
        .expect("compiles")
});

/// A validated pii stage.
#[derive(Debug)]
pub struct Plan {
    column: String,
    /// The entities, in pass order, each with its placeholder.
    entities: Vec<(Entity, String)>,
    mode: Mode,
    public_only: bool,
}

impl Kind for Spec {
    const NAME: &'static str = "pii";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        cx.text_column("column", &self.column)?;
        let wanted: Vec<Entity> = match &self.entities {
            Some(e) if e.is_empty() => {
                return Err(Invalid::new("entities", "no entity is named")
                    .hint("e.g. entities = [\"email\", \"ipv4\", \"phone\"]"));
            }
            Some(e) => e.clone(),
            None => Entity::ALL
                .into_iter()
                .filter(|e| *e != Entity::Url)
                .collect(),
        };
        for key in self.replace.keys() {
            let Some(e) = Entity::ALL.into_iter().find(|e| e.name() == key) else {
                let names: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
                return Err(Invalid::new(
                    format!("replace.{key}"),
                    format!("`{key}` is not an entity"),
                )
                .hint(format!("the entities are: {}", names.join(", "))));
            };
            if !wanted.contains(&e) {
                return Err(Invalid::new(
                    format!("replace.{key}"),
                    format!("a placeholder for `{key}`, which `entities` does not name"),
                )
                .hint(format!(
                    "add \"{key}\" to `entities`, or remove the placeholder"
                )));
            }
            if self.mode == Mode::Mask {
                return Err(Invalid::new(
                    format!("replace.{key}"),
                    "placeholders are for `mode = \"replace\"`; `mask` keeps the entity's shape",
                ));
            }
        }
        let entities = Entity::ALL
            .into_iter()
            .filter(|e| wanted.contains(e))
            .map(|e| {
                let with = self
                    .replace
                    .get(e.name())
                    .cloned()
                    .unwrap_or_else(|| e.placeholder().to_string());
                (e, with)
            })
            .collect();
        Ok(Plan {
            column: self.column.clone(),
            entities,
            mode: self.mode,
            public_only: self.public_only,
        })
    }
}

impl Plan {
    /// Where an entity starts and ends in `m`, if it is one: the match may
    /// hold more than the entity (an IBAN followed by a capitalised word).
    fn check(&self, e: Entity, text: &str, start: usize, end: usize) -> Option<usize> {
        let s = &text[start..end];
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        match e {
            Entity::Email => Some(end),
            Entity::Ipv4 => {
                let ip: Ipv4Addr = s.parse().ok()?;
                (!self.public_only || ipv4_is_global(ip)).then_some(end)
            }
            Entity::Ipv6 => {
                if word(before) || word(after) || after == Some(':') {
                    return None;
                }
                let ip: Ipv6Addr = s.parse().ok()?;
                let groups = s.split(':').filter(|g| !g.is_empty()).count();
                if groups < 3 && !(s.contains("::") && groups >= 2) {
                    return None;
                }
                (!self.public_only || ipv6_is_global(ip)).then_some(end)
            }
            Entity::Phone => {
                if word(before) || word(after) || matches!(before, Some('+' | '-' | '.' | '/')) {
                    return None;
                }
                let digits = s.bytes().filter(u8::is_ascii_digit).count();
                let ok = if s.starts_with('+') {
                    (8..=15).contains(&digits)
                } else if s.starts_with('0') {
                    (9..=12).contains(&digits)
                } else {
                    digits == 10
                };
                ok.then_some(end)
            }
            Entity::CreditCard => {
                if word(before) || word(after) {
                    return None;
                }
                let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
                ((13..=19).contains(&digits.len()) && (2..=6).contains(&digits[0]) && luhn(&digits))
                    .then_some(end)
            }
            Entity::Iban => {
                if word(before) {
                    return None;
                }
                let len = iban_length(&s[..2]);
                // The IBAN ends at its country's length (or at the match's end).
                let mut seen = 0;
                let mut cut = s.len();
                for (i, c) in s.char_indices() {
                    if c != ' ' {
                        seen += 1;
                        if Some(seen) == len {
                            cut = i + 1;
                            break;
                        }
                    }
                }
                let candidate: String = s[..cut].chars().filter(|c| *c != ' ').collect();
                if len.is_some_and(|l| candidate.len() != l) || candidate.len() < 15 {
                    return None;
                }
                if cut == s.len() && word(after) {
                    return None;
                }
                iban_valid(&candidate).then_some(start + cut)
            }
            Entity::Url => {
                if word(before) {
                    return None;
                }
                let trimmed = s.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
                (trimmed.len() > 4).then_some(start + trimmed.len())
            }
        }
    }

    /// One entity's pass over `text`: its replacements counted in `n`, and
    /// logged in `log` when given.
    fn pass<'t>(
        &self,
        e: Entity,
        with: &str,
        text: Cow<'t, str>,
        n: &mut u64,
        mut log: Option<&mut Vec<Edit>>,
    ) -> Cow<'t, str> {
        let mut out: Option<String> = None;
        let mut last = 0;
        for m in e.regex().find_iter(&text) {
            let Some(end) = self.check(e, &text, m.start(), m.end()) else {
                continue;
            };
            let span = &text[m.start()..end];
            let replacement: Cow<str> = match self.mode {
                Mode::Replace => Cow::Borrowed(with),
                Mode::Mask => Cow::Owned(
                    span.chars()
                        .map(|c| if c.is_alphanumeric() { '*' } else { c })
                        .collect(),
                ),
            };
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[last..m.start()]);
            o.push_str(&replacement);
            last = end;
            *n += 1;
            if let Some(log) = log.as_deref_mut() {
                log.push(Edit {
                    rule: e.name().into(),
                    before: transform::around(&text, m.start(), end),
                    after: replacement.into_owned(),
                });
            }
        }
        match out {
            None => text,
            Some(mut o) => {
                o.push_str(&text[last..]);
                Cow::Owned(o)
            }
        }
    }

    fn apply<'t>(
        &self,
        text: &'t str,
        edits: &mut [u64],
        mut log: Option<&mut Vec<Edit>>,
    ) -> Cow<'t, str> {
        let mut cur = Cow::Borrowed(text);
        for (k, (e, with)) in self.entities.iter().enumerate() {
            if !might_hold(*e, &cur) {
                continue;
            }
            cur = self.pass(*e, with, cur, &mut edits[k], log.as_deref_mut());
        }
        cur
    }
}

/// A cheap test that `text` could hold entity `e` at all.
fn might_hold(e: Entity, text: &str) -> bool {
    let b = text.as_bytes();
    match e {
        Entity::Email => b.contains(&b'@'),
        Entity::Ipv4 => b.contains(&b'.') && b.iter().any(u8::is_ascii_digit),
        Entity::Ipv6 => b.contains(&b':'),
        Entity::Url => b.contains(&b'/') || b.contains(&b'.'),
        Entity::CreditCard | Entity::Iban | Entity::Phone => b.iter().any(u8::is_ascii_digit),
    }
}

impl TextRewrite for Plan {
    fn column(&self) -> &str {
        &self.column
    }

    fn rules(&self) -> Vec<String> {
        self.entities
            .iter()
            .map(|(e, _)| e.name().to_string())
            .collect()
    }

    fn rewrite<'t>(&self, text: &'t str, edits: &mut [u64]) -> Fate<Cow<'t, str>> {
        match self.apply(text, edits, None) {
            Cow::Borrowed(_) => Fate::Same,
            Cow::Owned(s) => Fate::Changed(Cow::Owned(s)),
        }
    }

    fn edits_in(&self, text: &str) -> Vec<Edit> {
        let mut log = Vec::new();
        let mut edits = vec![0; self.entities.len()];
        self.apply(text, &mut edits, Some(&mut log));
        log
    }
}

impl Planned for Plan {
    type Detail = ();

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        transform::run(cx, input, self)
    }

    fn explain(&self, _cx: &ExplainContext) -> Result<Reason<()>, RunError> {
        // Redaction removes no row.
        Ok(Reason::recorded())
    }

    fn edits(&self, cx: &ExplainContext) -> Result<Vec<Edit>, RunError> {
        transform::explain_row(cx, self)
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("column  {}", self.column)];
        for (e, with) in &self.entities {
            let how = match self.mode {
                Mode::Replace => format!("→ {with}"),
                Mode::Mask => "masked with *".into(),
            };
            lines.push(format!("{:<12} {how}", e.name()));
        }
        if !self.public_only {
            lines.push("ip addresses: private and reserved ranges too".into());
        }
        lines
    }
}

/// Python's `ipaddress.IPv4Address.is_global` (3.13).
pub fn ipv4_is_global(ip: Ipv4Addr) -> bool {
    let v = u32::from(ip);
    let within = |net: [u8; 4], bits: u32| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        v & mask == u32::from(Ipv4Addr::from(net)) & mask
    };
    if within([100, 64, 0, 0], 10) {
        return false;
    }
    const PRIVATE: [([u8; 4], u32); 13] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([240, 0, 0, 0], 4),
        ([255, 255, 255, 255], 32),
    ];
    let exception = ip == Ipv4Addr::new(192, 0, 0, 9) || ip == Ipv4Addr::new(192, 0, 0, 10);
    exception || !PRIVATE.iter().any(|(net, bits)| within(*net, *bits))
}

/// Python's `ipaddress.IPv6Address.is_global`, without its few exceptions
/// inside 2001::/23.
pub fn ipv6_is_global(ip: Ipv6Addr) -> bool {
    let v = u128::from(ip);
    let within = |net: &str, bits: u32| {
        let n = u128::from(net.parse::<Ipv6Addr>().expect("a valid network"));
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        v & mask == n & mask
    };
    const PRIVATE: [(&str, u32); 11] = [
        ("::1", 128),
        ("::", 128),
        ("::ffff:0:0", 96),
        ("64:ff9b:1::", 48),
        ("100::", 64),
        ("2001::", 23),
        ("2001:db8::", 32),
        ("2002::", 16),
        ("fc00::", 7),
        ("fe80::", 10),
        ("fec0::", 10),
    ];
    !PRIVATE.iter().any(|(net, bits)| within(net, *bits))
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The IBAN length of a country (ISO 13616 registry), if sift knows it.
fn iban_length(country: &str) -> Option<usize> {
    const LENGTHS: [(&str, usize); 52] = [
        ("AD", 24),
        ("AE", 23),
        ("AL", 28),
        ("AT", 20),
        ("AZ", 28),
        ("BA", 20),
        ("BE", 16),
        ("BG", 22),
        ("BH", 22),
        ("BR", 29),
        ("CH", 21),
        ("CR", 22),
        ("CY", 28),
        ("CZ", 24),
        ("DE", 22),
        ("DK", 18),
        ("DO", 28),
        ("EE", 20),
        ("EG", 29),
        ("ES", 24),
        ("FI", 18),
        ("FO", 18),
        ("FR", 27),
        ("GB", 22),
        ("GE", 22),
        ("GI", 23),
        ("GL", 18),
        ("GR", 27),
        ("HR", 21),
        ("HU", 28),
        ("IE", 22),
        ("IL", 23),
        ("IS", 26),
        ("IT", 27),
        ("JO", 30),
        ("KW", 30),
        ("KZ", 20),
        ("LB", 28),
        ("LI", 21),
        ("LT", 20),
        ("LU", 20),
        ("LV", 21),
        ("MC", 27),
        ("MT", 31),
        ("NL", 18),
        ("NO", 15),
        ("PL", 28),
        ("PT", 25),
        ("RO", 24),
        ("SA", 24),
        ("SE", 24),
        ("SI", 19),
    ];
    LENGTHS.iter().find(|(c, _)| *c == country).map(|(_, l)| *l)
}

/// The ISO 13616 mod-97 check of an IBAN without spaces.
fn iban_valid(iban: &str) -> bool {
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(entities: &[Entity]) -> Plan {
        Plan {
            column: "text".into(),
            entities: Entity::ALL
                .into_iter()
                .filter(|e| entities.contains(e))
                .map(|e| (e, e.placeholder().to_string()))
                .collect(),
            mode: Mode::Replace,
            public_only: true,
        }
    }

    fn redact(p: &Plan, text: &str) -> String {
        let mut edits = vec![0; p.entities.len()];
        p.apply(text, &mut edits, None).into_owned()
    }

    #[test]
    fn emails_and_public_addresses_are_replaced_private_ones_kept() {
        let p = plan(&[Entity::Email, Entity::Ipv4]);
        assert_eq!(
            redact(
                &p,
                "Mail jane.doe+x@mail.example.co.uk or ping 8.8.8.8, not 10.0.0.1 or 127.0.0.1."
            ),
            "Mail <EMAIL> or ping <IP_ADDRESS>, not 10.0.0.1 or 127.0.0.1."
        );
        // datatrove's IPv4 expression has no word boundary: it finds 234.5.6.7 in 1234.5.6.7.
        assert_eq!(redact(&p, "v1234.5.6.7"), "v1<IP_ADDRESS>");
        // Leading zeros do not parse (as in Python), so they are kept.
        assert_eq!(redact(&p, "at 01.02.03.04"), "at 01.02.03.04");
        assert_eq!(
            redact(&p, "shared 100.64.1.1 and 192.0.0.9"),
            "shared 100.64.1.1 and <IP_ADDRESS>"
        );
    }

    #[test]
    fn ipv6_is_found_outside_words_and_code() {
        let p = plan(&[Entity::Ipv6]);
        assert_eq!(
            redact(&p, "host 2606:4700:4700::1111 up"),
            "host <IP_ADDRESS> up"
        );
        assert_eq!(redact(&p, "local fe80::1 and ::1"), "local fe80::1 and ::1");
        assert_eq!(
            redact(&p, "use std::vector and 12:30:45"),
            "use std::vector and 12:30:45"
        );
    }

    #[test]
    fn phones_cards_and_ibans_are_checked() {
        let p = plan(&[Entity::CreditCard, Entity::Iban, Entity::Phone]);
        assert_eq!(
            redact(
                &p,
                "Call +1 415-555-0132 or (212) 555-0199 or 020 7946 0958."
            ),
            "Call <PHONE> or <PHONE> or <PHONE>."
        );
        // Years, short local numbers and dates are not phones.
        let plain = "In 2019 2020 2021 we met; dial 555-1234 on 2024-01-31.";
        assert_eq!(redact(&p, plain), plain);
        assert_eq!(
            redact(&p, "card 4111 1111 1111 1111 ok, 4111 1111 1111 1112 not"),
            "card <CREDIT_CARD> ok, 4111 1111 1111 1112 not"
        );
        assert_eq!(
            redact(
                &p,
                "pay DE89 3704 0044 0532 0130 00 NOW, not DE89 3704 0044 0532 0130 01"
            ),
            "pay <IBAN> NOW, not DE89 3704 0044 0532 0130 01"
        );
    }

    #[test]
    fn urls_stop_before_trailing_punctuation_and_masks_keep_shape() {
        let p = plan(&[Entity::Url, Entity::Email]);
        assert_eq!(
            redact(&p, "See https://example.com/a?b=1, or www.example.org."),
            "See <URL>, or <URL>."
        );
        let mut m = plan(&[Entity::Email]);
        m.mode = Mode::Mask;
        assert_eq!(redact(&m, "to ab.c@x.io now"), "to **.*@*.** now");
    }

    #[test]
    fn explain_names_each_replacement() {
        let p = plan(&[Entity::Email, Entity::Ipv4]);
        let edits = p.edits_in("write to a@b.org from 1.1.1.1");
        let rules: Vec<&str> = edits.iter().map(|e| e.rule.as_str()).collect();
        assert_eq!(rules, ["email", "ipv4"]);
        assert_eq!(edits[0].after, "<EMAIL>");
        assert!(edits[0].before.contains("a@b.org"), "{:?}", edits[0]);
        let mut n = vec![0; 2];
        assert_eq!(p.rewrite("nothing here", &mut n), Fate::Same);
    }
}
