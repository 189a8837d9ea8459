//! Text as it is generated: [`Piece`]s of each candidate, and [`TextStream`], which turns a
//! candidate's growing bytes into pieces that are safe to show (whole characters, nothing a
//! stop string may still cut).

/// Most alternatives a caller may ask for per token (OpenAI's `top_logprobs` limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// What a streaming caller wants besides the text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Report each sampled token with its log-probability.
    pub logprobs: bool,
    /// With `logprobs`, also the most likely alternatives at each position (at most
    /// [`MAX_TOP_LOGPROBS`]).
    pub top_logprobs: usize,
}

/// A token and its log-probability under the model.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    /// The token's text (lossy where it is part of a multi-byte character).
    pub token: String,
    /// The token's bytes.
    pub bytes: Vec<u8>,
    /// Its natural-log probability.
    pub logprob: f64,
}

/// One sampled token of one candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// The candidate's index in the request.
    pub candidate: usize,
    /// Text that follows what this candidate's earlier pieces carried; empty while a
    /// character or a possible stop string is incomplete. A candidate's pieces add up to its
    /// final text.
    pub text: String,
    /// The sampled token, when [`StreamOptions::logprobs`] asked for it.
    pub token: Option<TokenLogprob>,
    /// The most likely tokens at this position, best first, when asked for.
    pub top: Vec<TokenLogprob>,
}

/// The visible text of one candidate as its bytes grow.
#[derive(Debug, Default)]
pub struct TextStream {
    sent: usize,
}

impl TextStream {
    /// The text of `bytes` (the candidate's whole output so far) not yet sent, up to the
    /// last whole character and short of any tail that could begin one of `stop`. Callers
    /// look for a complete stop string first and [`finish`](Self::finish) when there is one.
    pub fn advance(&mut self, bytes: &[u8], stop: &[String]) -> String {
        let valid = match std::str::from_utf8(bytes) {
            Ok(s) => s,
            // Safe: `valid_up_to` is a character boundary of valid UTF-8.
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        };
        let hold = stop
            .iter()
            .flat_map(|s| (1..s.len()).rev().filter(|&n| s.is_char_boundary(n)).map(move |n| &s[..n]))
            .filter(|prefix| valid.ends_with(prefix))
            .map(str::len)
            .max()
            .unwrap_or(0);
        let end = valid.len() - hold;
        if end <= self.sent {
            return String::new();
        }
        let out = valid[self.sent..end].to_owned();
        self.sent = end;
        out
    }

    /// What is left of `final_text` (the candidate's finished text) after the pieces sent.
    pub fn finish(&mut self, final_text: &str) -> String {
        let rest = final_text.get(self.sent..).unwrap_or_default().to_owned();
        self.sent = final_text.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], stop: &[&str], final_text: &str) -> Vec<String> {
        let stop: Vec<String> = stop.iter().map(|s| (*s).to_owned()).collect();
        let mut stream = TextStream::default();
        let mut bytes = Vec::new();
        let mut out: Vec<String> = chunks
            .iter()
            .map(|c| {
                bytes.extend_from_slice(c);
                stream.advance(&bytes, &stop)
            })
            .collect();
        out.push(stream.finish(final_text));
        out
    }

    #[test]
    fn pieces_hold_back_half_characters() {
        let e_acute = "é".as_bytes();
        let out = run(&[b"caf", &e_acute[..1], &e_acute[1..], b"!"], &[], "café!");
        assert_eq!(out, ["caf", "", "é", "!", ""]);
    }

    #[test]
    fn pieces_never_show_a_stop_string() {
        // "\n\n" is the stop: the first newline waits until it is clearly not the stop.
        // The backend finds the stop in the next token and finishes with the cut text.
        let out = run(&[b"one", b"\n", b"two", b"\n"], &["\n\n"], "one\ntwo");
        assert_eq!(out, ["one", "", "\ntwo", "", ""]);
        assert_eq!(out.concat(), "one\ntwo");
    }

    #[test]
    fn finish_sends_what_was_held() {
        let out = run(&[b"ab", b"<"], &["<end>"], "ab<");
        assert_eq!(out.concat(), "ab<");
    }
}
