//! An incremental reader of server-sent events as OpenAI-compatible servers send them: one
//! JSON payload per `data:` line, `data: [DONE]` at the end, optional `event:` names and
//! `:` comments (keep-alives).

/// What one line of the stream means.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SseItem {
    /// A `data:` payload, with the `event:` name that preceded it, if any.
    Data {
        /// The event name (`error` on some servers).
        event: Option<String>,
        /// The payload.
        data: String,
    },
    /// `data: [DONE]`.
    Done,
    /// A line that is not part of the event-stream format.
    Malformed(String),
}

/// Splits bytes into lines and lines into [`SseItem`]s.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buf: Vec<u8>,
    event: Option<String>,
}

impl SseDecoder {
    /// Adds bytes and returns the items of every line they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        self.buf.extend_from_slice(bytes);
        let mut items = Vec::new();
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            items.extend(self.line(&line[..nl]));
        }
        items
    }

    /// The item of a last line that had no newline.
    pub fn finish(&mut self) -> Option<SseItem> {
        let rest = std::mem::take(&mut self.buf);
        self.line(&rest)
    }

    fn line(&mut self, raw: &[u8]) -> Option<SseItem> {
        let text = String::from_utf8_lossy(raw);
        let line = text.strip_suffix('\r').unwrap_or(&text);
        if line.is_empty() {
            // A blank line ends an event; its name does not carry over.
            self.event = None;
            return None;
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" if value.trim() == "[DONE]" => Some(SseItem::Done),
            "data" => Some(SseItem::Data { event: self.event.take(), data: value.to_owned() }),
            "event" => {
                self.event = Some(value.to_owned());
                None
            }
            "id" | "retry" => None,
            _ => Some(SseItem::Malformed(line.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> SseItem {
        SseItem::Data { event: None, data: s.into() }
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut d = SseDecoder::default();
        assert!(d.feed(b"data: {\"a\"").is_empty());
        assert_eq!(d.feed(b": 1}\r\n\r\n: keep-alive\n\ndata:{}\n"), [data("{\"a\": 1}"), data("{}")]);
        assert_eq!(d.feed(b"data: [DONE]\n\n"), [SseItem::Done]);
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn event_names_attach_to_the_next_payload_only() {
        let mut d = SseDecoder::default();
        let items = d.feed(b"event: error\ndata: {\"message\": \"boom\"}\n\ndata: {}\n");
        assert_eq!(items[0], SseItem::Data { event: Some("error".into()), data: "{\"message\": \"boom\"}".into() });
        assert_eq!(items[1], data("{}"));
    }

    #[test]
    fn unknown_lines_are_malformed_and_a_last_line_still_counts() {
        let mut d = SseDecoder::default();
        assert_eq!(d.feed(b"{\"choices\": []}\n"), [SseItem::Malformed("{\"choices\": []}".into())]);
        assert!(d.feed(b"data: [DONE]").is_empty());
        assert_eq!(d.finish(), Some(SseItem::Done));
    }
}
