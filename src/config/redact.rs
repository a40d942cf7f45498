//! Settings' URLs as the log shows them: without their passwords.

/// `scheme://user:***@host/...`: a URL for the log, without its password (in the user
/// information or as a `password=` parameter).
pub fn redact_url(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            return redact_userinfo(&format!("{base}?{}", query.join("&")));
        }
        None => url,
    };
    redact_userinfo(url)
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_stay_out_of_the_log() {
        assert_eq!(
            redact_url("postgres://sylk:s3cret@db:5432/sylk"),
            "postgres://sylk:***@db:5432/sylk"
        );
        assert_eq!(
            redact_url("redis://:s3cret@10.0.0.2:6379/"),
            "redis://:***@10.0.0.2:6379/"
        );
        // An @ in the password: everything up to the last @ is user information.
        assert_eq!(
            redact_url("postgres://u:p@ss@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=u&password=s3cret&sslmode=disable"),
            "postgres://db/x?user=u&password=***&sslmode=disable"
        );
        for plain in ["redis://10.0.0.2:6379/", "postgres://u@db/x", "nonsense"] {
            assert_eq!(redact_url(plain), plain);
        }
    }
}
