// Python mirror of the `tokenizers` API (Tokenizer, Encoding) over the C++
// tokenizer, plus two inspection helpers used by the golden tests.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "optimum/core/errors.h"
#include "optimum/tokenizers/components.h"
#include "optimum/tokenizers/tokenizer.h"

namespace py = pybind11;
using namespace optimum;
using namespace optimum::tokenizers;

namespace {

Direction parse_direction(const std::string& s) {
  if (s == "right") return Direction::Right;
  if (s == "left") return Direction::Left;
  throw InvalidArgument("direction must be 'left' or 'right', got '" + s + "'");
}

// transformers' truncation strategy names.
TruncationStrategy parse_truncation_strategy(const std::string& strategy) {
  if (strategy == "longest_first") return TruncationStrategy::LongestFirst;
  if (strategy == "only_first") return TruncationStrategy::OnlyFirst;
  if (strategy == "only_second") return TruncationStrategy::OnlySecond;
  throw InvalidArgument("unknown truncation strategy '" + strategy + "' (longest_first, only_first, only_second)");
}

std::string direction_name(Direction d) { return d == Direction::Left ? "left" : "right"; }

// A Python str as UTF-8; TypeError (as `tokenizers` raises) for anything
// else, lone surrogates included.
std::string utf8_of(const py::handle& h, const char* what) {
  if (!PyUnicode_Check(h.ptr())) throw py::type_error(std::string(what) + " must be str");
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
  if (data == nullptr) {
    PyErr_Clear();
    throw py::type_error(std::string(what) +
                         " is not valid Unicode (lone surrogate?) and cannot be encoded to UTF-8");
  }
  return std::string(data, static_cast<size_t>(size));
}

EncodeInput to_input(const py::handle& item) {
  if (PyUnicode_Check(item.ptr())) return {utf8_of(item, "TextInputSequence"), std::nullopt};
  if (PyTuple_Check(item.ptr()) || PyList_Check(item.ptr())) {
    auto seq = py::reinterpret_borrow<py::sequence>(item);
    if (seq.size() == 2) return {utf8_of(seq[0], "TextInputSequence"), utf8_of(seq[1], "TextInputSequence")};
  }
  throw py::type_error("encode_batch inputs must be str or (str, str) pairs");
}

}  // namespace

void bind_tokenizers(py::module_& m) {
  py::class_<Encoding>(m, "Encoding")
      .def_readonly("ids", &Encoding::ids)
      .def_readonly("type_ids", &Encoding::type_ids)
      .def_readonly("tokens", &Encoding::tokens)
      .def_readonly("offsets", &Encoding::offsets)
      .def_readonly("attention_mask", &Encoding::attention_mask)
      .def_readonly("special_tokens_mask", &Encoding::special_tokens_mask)
      .def_readonly("word_ids", &Encoding::words)
      .def_readonly("words", &Encoding::words)
      .def_readonly("overflowing", &Encoding::overflowing)
      .def_property_readonly("sequence_ids", &Encoding::sequence_ids)
      .def_property_readonly(
          "n_sequences",
          [](const Encoding& e) { return e.sequence_ranges.empty() ? 1 : e.sequence_ranges.size(); })
      .def("__len__", &Encoding::size)
      .def("__repr__", [](const Encoding& e) {
        return "Encoding(num_tokens=" + std::to_string(e.size()) +
               ", overflowing=" + std::to_string(e.overflowing.size()) + ")";
      });

  py::class_<Tokenizer>(m, "Tokenizer")
      .def_static(
          "from_file", [](const std::string& path) { return Tokenizer::from_file(path); }, py::arg("path"))
      .def_static(
          "from_str",
          [](const std::string& json) {
            // As tokenizers (serde_json): numbers beyond double's range are refused.
            return Tokenizer::from_json(io::parse_json(json, "<string>", {io::NumberOverflow::kReject}), "<string>");
          },
          py::arg("json"))
      .def_static(
          "from_pretrained", [](const std::string& folder) { return Tokenizer::from_pretrained(folder); },
          py::arg("folder"))
      .def(
          "encode",
          [](const Tokenizer& t, const py::object& sequence_obj, const py::object& pair_obj,
             bool add_special_tokens) {
            const std::string sequence = utf8_of(sequence_obj, "TextInputSequence");
            std::optional<std::string> pair;
            if (!pair_obj.is_none()) pair = utf8_of(pair_obj, "TextInputSequence");
            py::gil_scoped_release release;
            return pair ? t.encode(sequence, std::string_view(*pair), add_special_tokens)
                        : t.encode(sequence, std::nullopt, add_special_tokens);
          },
          py::arg("sequence"), py::arg("pair") = py::none(), py::arg("add_special_tokens") = true)
      .def(
          "encode_batch",
          [](const Tokenizer& t, const py::object& inputs, bool add_special_tokens) {
            if (!PyList_Check(inputs.ptr()) && !PyTuple_Check(inputs.ptr())) {
              throw py::type_error("encode_batch takes a list (or tuple) of inputs");
            }
            std::vector<EncodeInput> in;
            in.reserve(py::len(inputs));
            for (const auto& item : inputs) in.push_back(to_input(item));
            py::gil_scoped_release release;
            return t.encode_batch(in, add_special_tokens);
          },
          py::arg("inputs"), py::arg("add_special_tokens") = true)
      .def(
          "encode_call",
          [](const Tokenizer& t, const py::object& inputs, bool add_special_tokens,
             std::optional<size_t> max_length, size_t stride, const std::string& strategy,
             const std::string& truncation_side, bool pad, std::optional<size_t> pad_length,
             std::optional<size_t> pad_to_multiple_of, uint32_t pad_id, uint32_t pad_type_id,
             const std::string& pad_token, const std::string& padding_side) {
            // One transformers tokenizer call: truncation and padding for this
            // call only (the tokenizer is not changed; safe from many threads).
            if (!PyList_Check(inputs.ptr()) && !PyTuple_Check(inputs.ptr())) {
              throw py::type_error("encode_call takes a list (or tuple) of inputs");
            }
            EncodeSettings settings;
            settings.add_special_tokens = add_special_tokens;
            if (max_length) {
              TruncationParams p;
              p.max_length = *max_length;
              p.stride = stride;
              p.strategy = parse_truncation_strategy(strategy);
              p.direction = parse_direction(truncation_side);
              settings.truncation = p;
            }
            if (pad) {
              PaddingParams p;
              p.length = pad_length;
              p.pad_to_multiple_of = pad_to_multiple_of.value_or(0);
              p.pad_id = pad_id;
              p.pad_type_id = pad_type_id;
              p.pad_token = pad_token;
              p.direction = parse_direction(padding_side);
              settings.padding = p;
            }
            std::vector<EncodeInput> in;
            in.reserve(py::len(inputs));
            for (const auto& item : inputs) in.push_back(to_input(item));
            py::gil_scoped_release release;
            return t.encode_batch(in, settings);
          },
          py::arg("inputs"), py::arg("add_special_tokens") = true, py::arg("max_length") = py::none(),
          py::arg("stride") = 0, py::arg("strategy") = "longest_first", py::arg("truncation_side") = "right",
          py::arg("pad") = false, py::arg("pad_length") = py::none(), py::arg("pad_to_multiple_of") = py::none(),
          py::arg("pad_id") = 0, py::arg("pad_type_id") = 0, py::arg("pad_token") = "[PAD]",
          py::arg("padding_side") = "right")
      .def(
          "decode",
          [](const Tokenizer& t, const std::vector<uint32_t>& ids, bool skip) { return t.decode(ids, skip); },
          py::arg("ids"), py::arg("skip_special_tokens") = true)
      .def(
          "decode_batch",
          [](const Tokenizer& t, const std::vector<std::vector<uint32_t>>& ids, bool skip) {
            py::gil_scoped_release release;
            return t.decode_batch(ids, skip);
          },
          py::arg("sequences"), py::arg("skip_special_tokens") = true)
      .def(
          "enable_truncation",
          [](Tokenizer& t, size_t max_length, size_t stride, const std::string& strategy,
             const std::string& direction) {
            TruncationParams p;
            p.max_length = max_length;
            p.stride = stride;
            p.strategy = parse_truncation_strategy(strategy);
            p.direction = parse_direction(direction);
            t.enable_truncation(p);
          },
          py::arg("max_length"), py::arg("stride") = 0, py::arg("strategy") = "longest_first",
          py::arg("direction") = "right")
      .def("no_truncation", &Tokenizer::no_truncation)
      .def(
          "enable_padding",
          [](Tokenizer& t, const std::string& direction, uint32_t pad_id, uint32_t pad_type_id,
             const std::string& pad_token, std::optional<size_t> length,
             std::optional<size_t> pad_to_multiple_of) {
            PaddingParams p;
            p.direction = parse_direction(direction);
            p.pad_id = pad_id;
            p.pad_type_id = pad_type_id;
            p.pad_token = pad_token;
            p.length = length;
            p.pad_to_multiple_of = pad_to_multiple_of.value_or(0);
            t.enable_padding(p);
          },
          py::arg("direction") = "right", py::arg("pad_id") = 0, py::arg("pad_type_id") = 0,
          py::arg("pad_token") = "[PAD]", py::arg("length") = py::none(),
          py::arg("pad_to_multiple_of") = py::none())
      .def("no_padding", &Tokenizer::no_padding)
      .def_property_readonly("truncation",
                             [](const Tokenizer& t) -> py::object {
                               if (!t.truncation()) return py::none();
                               const auto& p = *t.truncation();
                               const char* names[] = {"longest_first", "only_first", "only_second"};
                               py::dict d;
                               d["max_length"] = p.max_length;
                               d["stride"] = p.stride;
                               d["strategy"] = names[static_cast<int>(p.strategy)];
                               d["direction"] = direction_name(p.direction);
                               return d;
                             })
      .def_property_readonly("padding",
                             [](const Tokenizer& t) -> py::object {
                               if (!t.padding()) return py::none();
                               const auto& p = *t.padding();
                               py::dict d;
                               d["length"] = p.length ? py::cast(*p.length) : py::none();
                               d["pad_to_multiple_of"] =
                                   p.pad_to_multiple_of ? py::cast(p.pad_to_multiple_of) : py::none();
                               d["pad_id"] = p.pad_id;
                               d["pad_type_id"] = p.pad_type_id;
                               d["pad_token"] = p.pad_token;
                               d["direction"] = direction_name(p.direction);
                               return d;
                             })
      .def("token_to_id", &Tokenizer::token_to_id, py::arg("token"))
      .def("id_to_token", &Tokenizer::id_to_token, py::arg("id"))
      .def("get_vocab_size", &Tokenizer::vocab_size, py::arg("with_added_tokens") = true)
      .def("get_vocab", &Tokenizer::vocab, py::arg("with_added_tokens") = true)
      .def_property_readonly("model_max_length",
                             [](const Tokenizer& t) { return t.config().model_max_length; })
      .def_property_readonly("padding_side",
                             [](const Tokenizer& t) { return direction_name(t.config().padding_side); })
      .def_property_readonly("truncation_side",
                             [](const Tokenizer& t) { return direction_name(t.config().truncation_side); })
      .def_property_readonly("tokenizer_config", [](const Tokenizer& t) { return t.config().raw.dump(); },
                             "tokenizer_config.json as read (JSON text; empty object when absent)")
      .def_property_readonly("special_tokens", [](const Tokenizer& t) { return t.config().special_tokens; })
      .def_property_readonly("added_tokens", [](const Tokenizer& t) {
        std::vector<std::string> out;
        for (const AddedToken& a : t.added_tokens()) out.push_back(a.content);
        return out;
      });

  m.def(
      "_normalize",
      [](const std::string& normalizer_json, const std::string& text) {
        auto n = make_normalizer(io::parse_json(normalizer_json, "<normalizer>"));
        NormalizedString s(text);
        n->normalize(s);
        return py::make_tuple(py::bytes(s.normalized()), s.alignments());
      },
      py::arg("normalizer_json"), py::arg("text"), "Normalized bytes and per-byte original alignments");
  m.def(
      "_pre_tokenize",
      [](const std::string& pre_tokenizer_json, const std::string& text) {
        auto p = make_pre_tokenizer(io::parse_json(pre_tokenizer_json, "<pre_tokenizer>"));
        PreTokenizedString s(text);
        p->pre_tokenize(s);
        // (piece, (start, end)) with character offsets into text, like pre_tokenize_str.
        std::vector<size_t> char_at(text.size() + 1, 0);
        size_t chars = 0;
        for (size_t b = 0; b < text.size(); ++b) {
          char_at[b] = chars;
          if ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80) char_at[b] = chars++;
        }
        char_at[text.size()] = chars;
        py::list out;
        for (const Split& sp : s.splits()) {
          const auto o = sp.normalized.to_original(0, sp.normalized.size());
          const size_t shift = sp.normalized.original_shift();
          const size_t start = shift + (o ? o->first : 0);
          const size_t end = shift + (o ? o->second : sp.normalized.original().size());
          out.append(
              py::make_tuple(sp.normalized.normalized(), py::make_tuple(char_at[start], char_at[end])));
        }
        return out;
      },
      py::arg("pre_tokenizer_json"), py::arg("text"));
}
