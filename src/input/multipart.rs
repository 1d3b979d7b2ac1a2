//! `multipart/form-data` bodies (RFC 7578), as a browser sends a form with a file: the parts'
//! names, file names and bytes. Only what an upload form needs: a few parts, read from a body
//! already in memory (the app's body limit bounds it).

use memchr::memmem;

/// One part of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Set for a file input.
    pub filename: Option<String>,
    pub value: Vec<u8>,
}

/// At most this many parts: an upload form has a handful.
const MAX_PARTS: usize = 20;

/// The boundary a `Content-Type` header names.
fn boundary_of(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (key, value) = p.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (key.trim().eq_ignore_ascii_case("boundary") && (1..=70).contains(&value.len())).then_some(value)
    })
}

/// A `Content-Disposition` parameter (`name="file"`), as browsers write it.
fn param(head: &str, key: &str) -> Option<String> {
    head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition:")).and_then(|line| {
        line.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
        })
    })
}

/// The parts of `body`, sent with `content_type`; why not, when it is no well-formed form.
pub fn parts(content_type: &str, body: &[u8]) -> Result<Vec<Part>, &'static str> {
    let boundary = boundary_of(content_type).ok_or("not a multipart/form-data body")?;
    let delimiter = format!("--{boundary}");
    let next_part = format!("\r\n{delimiter}");
    let start = memmem::find(body, delimiter.as_bytes()).ok_or("no part")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if parts.len() == MAX_PARTS {
            return Err("too many parts");
        }
        rest = rest.strip_prefix(b"\r\n").ok_or("a part does not start on its own line")?;
        let head_end = memmem::find(rest, b"\r\n\r\n").ok_or("a part has no end to its headers")?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| "a part's headers are not text")?;
        let name = param(head, "name").ok_or("a part has no name")?;
        let filename = param(head, "filename");
        rest = &rest[head_end + 4..];
        let end = memmem::find(rest, next_part.as_bytes()).ok_or("a part has no end")?;
        parts.push(Part { name, filename, value: rest[..end].to_vec() });
        rest = &rest[end + next_part.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=----b0undary";

    #[test]
    fn a_browser_form_with_a_file_reads_back_part_by_part() {
        let body = "------b0undary\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\ntok\r\n\
                    ------b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.json\"\r\n\
                    Content-Type: application/json\r\n\r\n{\"a\":\r\n1}\r\n------b0undary--\r\n";
        let parts = parts(TYPE, body.as_bytes()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].value.as_slice()), ("csrf_token", &b"tok"[..]));
        assert_eq!(parts[1].filename.as_deref(), Some("s.json"));
        assert_eq!(parts[1].value, b"{\"a\":\r\n1}");
    }

    #[test]
    fn a_body_that_is_no_well_formed_form_is_refused() {
        for (content_type, body) in [
            ("application/x-www-form-urlencoded", "a=b"),
            ("multipart/form-data", "------b0undary--"),
            (TYPE, "nothing here"),
            (TYPE, "------b0undary\r\nContent-Disposition: form-data\r\n\r\nx\r\n------b0undary--"),
            (TYPE, "------b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"),
        ] {
            assert!(parts(content_type, body.as_bytes()).is_err(), "{body}");
        }
        let many = "------b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n".repeat(30);
        assert_eq!(parts(TYPE, format!("{many}------b0undary--").as_bytes()), Err("too many parts"));
    }
}
