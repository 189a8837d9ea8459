//! Chat prompts rendered from the model's own Jinja template (`tokenizer.chat_template`)
//! with a real Jinja engine, configured as Hugging Face renders templates.

use autobranch_core::model::{ChatMessage, ModelError, Prompt, Role};
use minijinja::{Environment, Error, ErrorKind, context};

/// A compiled chat template plus the special tokens it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source`; `bos`/`eos` are the token texts the template may print.
    pub fn new(source: String, bos_token: String, eos_token: String) -> Result<Self, Error> {
        let mut env = Environment::new();
        // Hugging Face renders with trim_blocks and lstrip_blocks; templates rely on it.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned("chat", source)?;
        Ok(Self { env, bos_token, eos_token })
    }

    /// Renders the messages with `add_generation_prompt = true`.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, Error> {
        let messages: Vec<_> = messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                context! { role => role, content => m.content }
            })
            .collect();
        self.env.get_template("chat")?.render(context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        })
    }

    /// The BOS token text (to avoid adding a second BOS when the template printed one).
    pub fn bos_token(&self) -> &str {
        &self.bos_token
    }
}

/// The text a prompt stands for: raw text as is, a chat rendered through `template` (a
/// model without one refuses chats). The flag says whether the text already starts with
/// the BOS token, so that a caller adding BOS does not add a second one.
pub fn prompt_text(template: Option<&ChatTemplate>, prompt: &Prompt) -> Result<(String, bool), ModelError> {
    match prompt {
        Prompt::Text(t) => Ok((t.clone(), false)),
        Prompt::Chat(messages) => {
            let template = template.ok_or_else(|| {
                ModelError::InvalidRequest(
                    "this model's GGUF has no tokenizer.chat_template; send a plain text prompt instead of a chat"
                        .into(),
                )
            })?;
            let text = template
                .render(messages)
                .map_err(|e| ModelError::InvalidRequest(format!("the model's chat template failed: {e}")))?;
            let has_bos = !template.bos_token().is_empty() && text.starts_with(template.bos_token());
            Ok((text, has_bos))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_with_default_system_prompt() {
        let t = ChatTemplate::new(CHATML.into(), String::new(), "<|im_end|>".into()).unwrap();
        let out = t.render(&[ChatMessage::new(Role::User, "Hi")]).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let src = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}{{ messages[0]['content'].strip() | upper }}";
        let t = ChatTemplate::new(src.into(), String::new(), String::new()).unwrap();
        assert_eq!(t.render(&[ChatMessage::new(Role::User, "  hi  ")]).unwrap(), "HI");
        let err = t.render(&[ChatMessage::new(Role::System, "x")]).unwrap_err();
        assert!(err.to_string().contains("no system role"));
    }
}
