//! A strict parser of the Prometheus text exposition format (version 0.0.4), so that tests read
//! `/metrics` as a scraper would and fail on anything a scraper would refuse: a sample without its
//! `# TYPE`, a family declared twice or split up, a malformed name, label or value, a counter not
//! ending in `_total`, a histogram whose buckets are not cumulative or disagree with `_count`.

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name → declared type.
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the one sample named `name` whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} matches several samples: {found:?}");
        found.first().map(|s| s.value)
    }

    /// The samples named `name`.
    pub fn all(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(raw: &str) -> Result<f64, String> {
    match raw {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => raw.parse::<f64>().map_err(|_| format!("bad value {raw:?}")),
    }
}

/// `{a="x",b="y"}` at the start of `rest`: the labels and what follows the `}`.
fn parse_labels(rest: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut s = rest.strip_prefix('{').ok_or("no {")?;
    loop {
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or_else(|| format!("label without = in {rest:?}"))?;
        let key = &s[..eq];
        if !valid_name(key) || key.contains(':') {
            return Err(format!("bad label name {key:?}"));
        }
        s = s[eq + 1..].strip_prefix('"').ok_or_else(|| format!("label {key} value not quoted"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in label {key}")),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) | None => return Err(format!("unterminated label {key}")),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        s = &s[end + 1..];
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err(format!("expected , or }} after label {key}"));
        }
    }
}

/// The family a sample belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| types.get(*base).is_some_and(|t| t == "histogram" || t == "summary"))
}

/// Parses `text`, failing with the line that breaks the format.
pub fn parse_exposition(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut done: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut helped: HashSet<String> = HashSet::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition does not end with a line feed".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, arg) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            match kind {
                Some("HELP") if !valid_name(name) || !helped.insert(name.to_owned()) => {
                    return Err(at("bad or repeated HELP".into()));
                }
                Some("TYPE") => {
                    if !valid_name(name) || out.types.contains_key(name) {
                        return Err(at("bad or repeated TYPE".into()));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg) {
                        return Err(at(format!("unknown type {arg:?}")));
                    }
                    if arg == "counter" && !name.ends_with("_total") {
                        return Err(at("a counter's name must end in _total".into()));
                    }
                    if let Some(previous) = current.replace(name.to_owned()) {
                        done.insert(previous);
                    }
                    out.types.insert(name.to_owned(), arg.to_owned());
                }
                _ => {}
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields =
            rest.strip_prefix(' ').ok_or_else(|| at("no space before the value".into()))?.split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let family = family_of(name, &out.types).ok_or_else(|| at("sample without a # TYPE".into()))?;
        if current.as_deref() != Some(family) || done.contains(family) {
            return Err(at(format!("sample of {family} outside its family's block")));
        }
        if out.types[family] == "counter" && (value.is_nan() || value < 0.0) {
            return Err(at("a negative counter".into()));
        }
        out.samples.push(Sample { name: name.to_owned(), labels, value });
    }
    check_histograms(&out)?;
    Ok(out)
}

/// A series' labels but `le`, in order.
type Labels = Vec<(String, String)>;

/// Every histogram series: `le` buckets in increasing order, cumulative, ending at `+Inf` with the
/// series' `_count`, and a `_sum`.
fn check_histograms(out: &Exposition) -> Result<(), String> {
    for (family, _) in out.types.iter().filter(|(_, t)| *t == "histogram") {
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for s in out.all(&format!("{family}_bucket")) {
            let le = s.labels.get("le").ok_or(format!("{family}: a bucket without le"))?;
            let key: Vec<_> =
                s.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            series.entry(key).or_default().push((parse_value(le)?, s.value));
        }
        for (labels, buckets) in series {
            let want: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let is_ordered = buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            if !is_ordered || buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
                return Err(format!("{family} {want:?}: buckets not cumulative up to +Inf: {buckets:?}"));
            }
            let count = out.value(&format!("{family}_count"), &want);
            if count != buckets.last().map(|b| b.1) || out.value(&format!("{family}_sum"), &want).is_none() {
                return Err(format!("{family} {want:?}: _count {count:?} or _sum disagree with the buckets"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_parser_refuses_what_a_scraper_would() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\\n\"} 2\n";
    assert_eq!(parse_exposition(ok).unwrap().value("a_total", &[("x", "1\"\n")]), Some(2.0));
    for bad in [
        "a_total 1\n",
        "# TYPE a counter\na 1\n",
        "# TYPE a_total counter\na_total{x=1} 1\n",
        "# TYPE a_total counter\na_total -1\n",
        "# TYPE g gauge\ng one\n",
        "# TYPE g gauge\ng 1",
        "# TYPE g gauge\n# TYPE h gauge\nh 1\ng 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}
