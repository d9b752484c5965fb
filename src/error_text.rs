//! An error as one line a person reads: the CLI's `error: …`, the Python
//! package's exceptions and the policy refusals all print it this way.

/// An error and its causes, each once: many errors already quote their
/// source (`path: No such file…`), and printing the whole chain would
/// repeat it.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct Outer(std::io::Error, &'static str);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.1)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_is_added_once() {
        let io = || std::io::Error::other("disk full");
        assert_eq!(
            super::with_causes(&Outer(io(), "writing x")),
            "writing x: disk full"
        );
        assert_eq!(
            super::with_causes(&Outer(io(), "writing x: disk full")),
            "writing x: disk full"
        );
    }
}
