//! Sentence encoders of sentence-transformers folders: BERT ([`bert`]) and MPNet ([`mpnet`]),
//! chosen by `config.json`'s `model_type`, with the parts both share ([`layers`]).

pub mod bert;
pub mod config;
pub mod gelu;
pub mod layers;
pub mod load;
pub mod mpnet;

use burn::tensor::{Device, Tensor};

use self::bert::BertModel;
use self::mpnet::MpnetModel;

/// A loaded encoder of either architecture.
#[derive(Debug)]
pub enum Encoder {
    Bert(BertModel),
    Mpnet(MpnetModel),
}

impl Encoder {
    /// Sentence vectors (not normalised), `[texts, hidden]`, for texts given as token ids (at
    /// least one, each at most the configured sequence length); each model pads the batch
    /// its own way.
    pub fn embed(&self, texts: &[&[u32]], device: &Device) -> Tensor<2> {
        match self {
            Encoder::Bert(m) => m.embed(texts, device),
            Encoder::Mpnet(m) => m.embed(texts, device),
        }
    }
}
