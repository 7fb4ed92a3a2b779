//! Just enough of the ONNX protobuf to read two facts a tokenizer must agree with: the rows of
//! the word-embedding table (the vocabulary) and of the position-embedding table (the longest
//! sequence). A small varint / length-delimited walker over the `ModelProto` bytes; it borrows
//! the bytes, so the multi-megabyte `raw_data` of the weights is skipped, never copied.
//!
//! Fields read (onnx.proto3): `ModelProto.graph` = 7; `GraphProto.node` = 1,
//! `GraphProto.initializer` = 5; `NodeProto.input` = 1, `.output` = 2, `.op_type` = 4;
//! `TensorProto.dims` = 1 (int64, packed or not), `TensorProto.name` = 8.

use std::collections::HashMap;

/// What [`inspect`] found; `None` where the graph has no recognisable table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphFacts {
    /// Rows of the table gathered by `input_ids`.
    pub vocab_size: Option<usize>,
    /// Rows of the position-embedding table.
    pub max_positions: Option<usize>,
}

#[derive(Default)]
struct Node<'a> {
    inputs: Vec<&'a str>,
    outputs: Vec<&'a str>,
    op_type: &'a str,
}

/// One protobuf field: its number and value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates over the fields of one protobuf message; stops (returning `None`) at the end or
/// at the first malformed field.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let key = self.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 | 5 => {
                let width = if wire == 1 { 8 } else { 4 };
                self.pos = self.pos.checked_add(width).filter(|&p| p <= self.bytes.len())?;
                Value::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len())?;
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Value::Bytes(slice)
            }
            _ => return None, // groups (3, 4) are not used by ONNX; anything else is corrupt
        };
        Some((field, value))
    }
}

fn string(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

fn parse_node(bytes: &[u8]) -> Node<'_> {
    let mut node = Node::default();
    for (field, value) in Fields::new(bytes) {
        if let Value::Bytes(b) = value {
            match field {
                1 => node.inputs.push(string(b)),
                2 => node.outputs.push(string(b)),
                4 => node.op_type = string(b),
                _ => {}
            }
        }
    }
    node
}

/// A tensor's name and dims.
fn parse_tensor(bytes: &[u8]) -> (&str, Vec<i64>) {
    let mut name = "";
    let mut dims = Vec::new();
    for (field, value) in Fields::new(bytes) {
        match (field, value) {
            (1, Value::Varint(d)) => dims.push(d as i64),
            (1, Value::Bytes(packed)) => {
                let mut inner = Fields::new(packed);
                while inner.pos < packed.len() {
                    match inner.varint() {
                        Some(d) => dims.push(d as i64),
                        None => break,
                    }
                }
            }
            (8, Value::Bytes(b)) => name = string(b),
            _ => {}
        }
    }
    (name, dims)
}

/// Read the vocabulary and position-table sizes from ONNX `ModelProto` bytes. A graph without
/// such tables, or bytes that are not a model, give `None`s (the caller then skips its checks):
/// the ONNX Runtime session build is what rejects a corrupt model.
pub fn inspect(model: &[u8]) -> GraphFacts {
    let Some(graph) = Fields::new(model).find_map(|(f, v)| match (f, v) {
        (7, Value::Bytes(b)) => Some(b),
        _ => None,
    }) else {
        return GraphFacts::default();
    };
    let mut nodes = Vec::new();
    let mut initializers: HashMap<&str, Vec<i64>> = HashMap::new();
    for (field, value) in Fields::new(graph) {
        match (field, value) {
            (1, Value::Bytes(b)) => nodes.push(parse_node(b)),
            (5, Value::Bytes(b)) => {
                let (name, dims) = parse_tensor(b);
                initializers.insert(name, dims);
            }
            _ => {}
        }
    }
    let producer: HashMap<&str, &Node> =
        nodes.iter().flat_map(|n| n.outputs.iter().map(move |&o| (o, n))).collect();
    // A table is an initializer, or (quantized models) one hop away through a
    // DequantizeLinear / Cast / Identity: (its initializer's name, dims).
    let table = |name: &str| -> Option<(String, Vec<i64>)> {
        if let Some(dims) = initializers.get(name) {
            return Some((name.to_string(), dims.clone()));
        }
        let node = producer.get(name)?;
        if !matches!(node.op_type, "DequantizeLinear" | "Cast" | "Identity") {
            return None;
        }
        let source = node.inputs.first()?;
        initializers.get(source).map(|dims| (source.to_string(), dims.clone()))
    };
    let rows = |dims: &[i64]| (dims.len() == 2 && dims[0] > 0).then(|| dims[0] as usize);
    let is_input_ids = |name: &str| {
        name == "input_ids"
            || producer
                .get(name)
                .is_some_and(|n| n.op_type == "Cast" && n.inputs.first() == Some(&"input_ids"))
    };

    let mut facts = GraphFacts::default();
    for node in &nodes {
        let Some(data) = node.inputs.first() else { continue };
        if node.op_type == "Gather" && node.inputs.get(1).is_some_and(|i| is_input_ids(i)) {
            if let Some((_, dims)) = table(data) {
                facts.vocab_size = facts.vocab_size.or(rows(&dims));
            }
        }
        // BERT exports read the position table with a Gather (on position ids) or a Slice.
        if matches!(node.op_type, "Gather" | "Slice") {
            if let Some((name, dims)) = table(data) {
                if name.contains("position_embeddings") || data.contains("position_embeddings") {
                    facts.max_positions = facts.max_positions.or(rows(&dims));
                }
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        for i in inputs {
            field(1, i.as_bytes(), &mut b);
        }
        for o in outputs {
            field(2, o.as_bytes(), &mut b);
        }
        field(4, op.as_bytes(), &mut b);
        b
    }

    fn tensor(name: &str, dims: &[u64], packed: bool) -> Vec<u8> {
        let mut b = Vec::new();
        if packed {
            let mut p = Vec::new();
            dims.iter().for_each(|&d| varint(d, &mut p));
            field(1, &p, &mut b);
        } else {
            for &d in dims {
                varint(1 << 3, &mut b);
                varint(d, &mut b);
            }
        }
        varint(2 << 3, &mut b); // data_type = 1 (a varint field, skipped)
        varint(1, &mut b);
        field(9, &[0u8; 64], &mut b); // raw_data, skipped
        field(8, name.as_bytes(), &mut b);
        b
    }

    fn model(nodes: &[Vec<u8>], inits: &[Vec<u8>]) -> Vec<u8> {
        let mut graph = Vec::new();
        for n in nodes {
            field(1, n, &mut graph);
        }
        for t in inits {
            field(5, t, &mut graph);
        }
        let mut m = Vec::new();
        varint(1 << 3, &mut m); // ir_version
        varint(8, &mut m);
        field(7, &graph, &mut m);
        m
    }

    #[test]
    fn reads_direct_tables() {
        let bytes = model(
            &[
                node("Gather", &["word", "input_ids"], &["e"]),
                node("Slice", &["embeddings.position_embeddings.weight", "a", "b"], &["p"]),
            ],
            &[
                tensor("word", &[30522, 8], false),
                tensor("embeddings.position_embeddings.weight", &[512, 8], true),
            ],
        );
        assert_eq!(inspect(&bytes), GraphFacts { vocab_size: Some(30522), max_positions: Some(512) });
    }

    #[test]
    fn follows_cast_and_dequantize_hops() {
        let bytes = model(
            &[
                node("Cast", &["input_ids"], &["ids32"]),
                node("DequantizeLinear", &["word_q", "s", "z"], &["word"]),
                node("Gather", &["word", "ids32"], &["e"]),
                node("DequantizeLinear", &["pos_q", "s", "z"], &["embeddings.position_embeddings.weight_dq"]),
                node("Gather", &["embeddings.position_embeddings.weight_dq", "position_ids"], &["p"]),
            ],
            &[tensor("word_q", &[1000, 4], true), tensor("pos_q", &[256, 4], false)],
        );
        assert_eq!(inspect(&bytes), GraphFacts { vocab_size: Some(1000), max_positions: Some(256) });
    }

    #[test]
    fn unknown_or_corrupt_bytes_give_nothing() {
        assert_eq!(inspect(b""), GraphFacts::default());
        assert_eq!(inspect(&[0xff; 32]), GraphFacts::default());
        let no_tables = model(&[node("Relu", &["x"], &["y"])], &[]);
        assert_eq!(inspect(&no_tables), GraphFacts::default());
        // A length prefix past the end must not panic.
        let mut truncated =
            model(&[node("Gather", &["w", "input_ids"], &["e"])], &[tensor("w", &[9, 2], true)]);
        truncated.truncate(truncated.len() - 3);
        let _ = inspect(&truncated);
    }

    #[test]
    fn reads_the_real_models() {
        let Ok(dir) = std::env::var("TIERSCOPE_TEST_ROUTER") else { return };
        let dir = std::path::PathBuf::from(dir);
        let mut paths = vec![dir.join("model.onnx")];
        // The fp32 sibling of the default router, and its guard, when present.
        paths.push(dir.join("guard").join("model.onnx"));
        if let Some(parent) = dir.parent() {
            paths.push(parent.join("minilm-fp32-v1").join("model.onnx"));
        }
        let mut seen = 0;
        for path in paths.iter().filter(|p| p.is_file()) {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(
                inspect(&bytes),
                GraphFacts { vocab_size: Some(30522), max_positions: Some(512) },
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert!(seen >= 1);
    }
}
