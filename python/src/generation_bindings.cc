// Python front end of the generation layer: _C.generate (blocking, optional
// per-token callback), _C.generate_stream (an iterator fed by a background
// thread), logits processors one by one (parity tests), generation config
// loading, and the CausalLM base class every decoder binding derives from
// (plus the table model the generation tests use as an oracle).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstring>
#include <span>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "optimum/core/errors.h"
#include "optimum/generation/generate.h"
#include "optimum/generation/logits_process.h"
#include "optimum/generation/seq2seq.h"
#include "optimum/generation/table_lm.h"
#include "optimum/generation/whisper.h"
#include "optimum/io/json.h"
#include "optimum/tokenizers/tokenizer.h"

namespace py = pybind11;
using namespace optimum;
using namespace optimum::generation;

namespace {

io::Json py_to_json(const py::handle& h, const std::string& key) {
  if (h.is_none()) return nullptr;
  if (PyBool_Check(h.ptr())) return h.cast<bool>();
  if (PyLong_Check(h.ptr())) return h.cast<int64_t>();
  if (PyFloat_Check(h.ptr())) return h.cast<double>();
  if (PyUnicode_Check(h.ptr())) return h.cast<std::string>();
  if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr())) {
    io::Json arr = io::Json::array();
    for (auto item : py::reinterpret_borrow<py::sequence>(h)) arr.push_back(py_to_json(item, key));
    return arr;
  }
  // numpy scalars and other numbers.
  if (py::hasattr(h, "__index__")) return py::int_(py::reinterpret_borrow<py::object>(h)).cast<int64_t>();
  if (py::hasattr(h, "__float__")) return py::float_(py::reinterpret_borrow<py::object>(h)).cast<double>();
  throw InvalidArgument("generate option '" + key + "' has an unsupported type " +
                        std::string(py::str(py::type::of(h).attr("__name__"))));
}

io::Json py_to_json_dict(const py::object& obj) {
  io::Json j = io::Json::object();
  for (auto item : py::reinterpret_borrow<py::dict>(obj)) {
    const std::string key = py::str(item.first);
    j[key] = py_to_json(item.second, key);
  }
  return j;
}

py::object json_to_py(const io::Json& j) {
  if (j.is_null()) return py::none();
  if (j.is_boolean()) return py::bool_(j.get<bool>());
  if (j.is_number_integer()) return py::int_(j.get<int64_t>());
  if (j.is_number_unsigned()) return py::int_(j.get<uint64_t>());
  if (j.is_number()) return py::float_(j.get<double>());
  if (j.is_string()) return py::str(j.get<std::string>());
  if (j.is_array()) {
    py::list l;
    for (const auto& x : j) l.append(json_to_py(x));
    return l;
  }
  py::dict d;
  for (auto it = j.begin(); it != j.end(); ++it) d[py::str(it.key())] = json_to_py(it.value());
  return d;
}

// The C++ model behind `model`: a CausalLM binding, or an object whose
// `causal_lm` attribute is one (the engine's model wrapper).
std::shared_ptr<const models::CausalLM> as_causal_lm(const py::object& model) {
  try {
    return model.cast<std::shared_ptr<models::CausalLM>>();
  } catch (const py::cast_error&) {
  }
  // The engine's _C.CausalLM (its `causal_lm`), or optimum_cpp's
  // AutoModelForCausalLM wrapper around one (its `_native`).
  for (const char* attr : {"causal_lm", "_native"})
    if (py::hasattr(model, attr)) return as_causal_lm(model.attr(attr));
  throw InvalidArgument("generate: model must be a causal language model of optimum_cpp (AutoModelForCausalLM, "
                        "_C.CausalLM or a _C.CausalLMInterface), got " +
                        std::string(py::str(py::type::of(model).attr("__name__"))));
}

std::vector<std::vector<int64_t>> as_prompts(const py::object& input_ids) {
  std::vector<std::vector<int64_t>> prompts;
  if (py::isinstance<py::array>(input_ids)) {
    auto arr = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(input_ids);
    if (!arr || (arr.ndim() != 1 && arr.ndim() != 2)) throw InvalidArgument("generate: input_ids must be 1-D or 2-D");
    if (arr.ndim() == 1) return {std::vector<int64_t>(arr.data(), arr.data() + arr.shape(0))};
    for (py::ssize_t i = 0; i < arr.shape(0); ++i)
      prompts.emplace_back(arr.data() + i * arr.shape(1), arr.data() + (i + 1) * arr.shape(1));
    return prompts;
  }
  auto seq = py::reinterpret_borrow<py::sequence>(input_ids);
  if (seq.size() > 0 && (PyLong_Check(seq[0].ptr()) || py::hasattr(seq[0], "__index__")) &&
      !py::isinstance<py::sequence>(seq[0]))
    return {input_ids.cast<std::vector<int64_t>>()};
  for (auto item : seq) {
    if (py::isinstance<py::array>(item)) {
      auto arr = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(item);
      prompts.emplace_back(arr.data(), arr.data() + arr.size());
    } else {
      prompts.push_back(item.cast<std::vector<int64_t>>());
    }
  }
  return prompts;
}

// A Python object held by C++ code that may drop it without the GIL.
std::shared_ptr<py::object> hold(py::object obj) {
  return std::shared_ptr<py::object>(new py::object(std::move(obj)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

// Everything a generate call takes besides the model and prompts.
struct CallSetup {
  GenerationConfig config;
  DecodeFn decode;
  std::shared_ptr<py::object> keep_tokenizer;
  std::shared_ptr<py::object> keep_decode;
  int64_t top_logprobs = 0;
};

CallSetup setup_call(const py::kwargs& kwargs) {
  CallSetup s;
  io::Json options = io::Json::object();
  py::object tokenizer = py::none();
  py::object decode = py::none();
  py::object generation_config = py::none();
  for (auto item : kwargs) {
    const std::string key = py::str(item.first);
    if (key == "tokenizer") {
      tokenizer = py::reinterpret_borrow<py::object>(item.second);
    } else if (key == "decode") {
      decode = py::reinterpret_borrow<py::object>(item.second);
    } else if (key == "top_logprobs") {
      s.top_logprobs = item.second.is_none() ? 0 : item.second.cast<int64_t>();
    } else if (key == "generation_config") {
      generation_config = py::reinterpret_borrow<py::object>(item.second);
    } else {
      options[key] = py_to_json(item.second, key);
    }
  }
  if (!generation_config.is_none()) {
    // A folder (generation_config.json / config.json) or a dict of keys.
    if (py::isinstance<py::dict>(generation_config)) {
      s.config = GenerationConfig::from_json(py_to_json_dict(generation_config), "generation_config");
    } else {
      s.config = GenerationConfig::from_pretrained(py::str(generation_config).cast<std::string>());
    }
  }
  s.config.update(options);
  if (!tokenizer.is_none()) {
    const auto& tok = tokenizer.cast<const tokenizers::Tokenizer&>();
    s.keep_tokenizer = hold(tokenizer);
    s.decode = tokenizer_decoder(tok);
  } else if (!decode.is_none()) {
    s.keep_decode = hold(decode);
    auto fn = s.keep_decode;
    s.decode = [fn](const std::vector<int64_t>& ids) {
      py::gil_scoped_acquire gil;
      return (*fn)(ids).cast<std::string>();
    };
  }
  return s;
}

py::list to_python(const std::vector<GenerationOutput>& outputs) {
  py::list items;
  for (const auto& out : outputs) {
    py::list seqs;
    for (const auto& s : out) {
      py::dict d;
      d["tokens"] = s.tokens;
      d["scores"] = s.scores;
      d["logprobs"] = s.logprobs;
      if (!s.top_logprobs.empty()) d["top_logprobs"] = s.top_logprobs;
      d["sequence_score"] = s.sequence_score ? py::object(py::float_(*s.sequence_score)) : py::none();
      d["finish_reason"] = finish_reason_name(s.finish_reason);
      seqs.append(d);
    }
    items.append(seqs);
  }
  return items;
}

py::tuple event_tuple(const TokenEvent& e) {
  return py::make_tuple(e.request, e.sequence, e.token, e.score, e.logprob, e.finished);
}

// An iterator over the tokens of a generate call running on its own thread.
class Stream {
 public:
  Stream(std::shared_ptr<const models::CausalLM> model, std::vector<std::vector<int64_t>> prompts, CallSetup setup)
      : setup_(std::move(setup)) {
    GenerateOptions options;
    options.decode = setup_.decode;
    options.top_logprobs = setup_.top_logprobs;
    options.on_token = [this](const TokenEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
      return !stop_.load();
    };
    // Validate now, so errors in options raise at the call.
    setup_.config.validate();
    if (setup_.config.num_beams > 1)
      throw InvalidArgument("`streamer` cannot be used with beam search (yet!). Make sure that `num_beams` is set to 1.");
    worker_ = std::thread([this, model = std::move(model), prompts = std::move(prompts), options]() {
      try {
        auto out = generation::generate(model, prompts, setup_.config, options);
        std::lock_guard<std::mutex> lock(mu_);
        result_ = std::move(out);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
  }
  ~Stream() { close(); }

  void close() {
    stop_ = true;
    if (worker_.joinable()) {
      py::gil_scoped_release release;
      worker_.join();
    }
  }

  py::tuple next() {
    TokenEvent e;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !events_.empty() || done_; });
      if (events_.empty()) {
        lock.unlock();
        {
          py::gil_scoped_acquire gil;
          close();
        }
        if (error_) std::rethrow_exception(error_);
        throw py::stop_iteration();
      }
      e = events_.front();
      events_.pop_front();
    }
    return event_tuple(e);
  }

  py::object result() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done_) return py::none();
    return to_python(result_);
  }

 private:
  CallSetup setup_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenEvent> events_;
  std::vector<GenerationOutput> result_;
  std::exception_ptr error_;
  bool done_ = false;
  std::atomic<bool> stop_{false};
};

}  // namespace

void bind_generation(py::module_& m) {
  // The interface generate() runs on; the engine's _C.CausalLM hands its
  // model out as one through its `causal_lm` property.
  py::class_<models::CausalLM, std::shared_ptr<models::CausalLM>>(m, "CausalLMInterface")
      .def_property_readonly("vocab_size", &models::CausalLM::vocab_size)
      .def_property_readonly("max_positions", &models::CausalLM::max_positions)
      .def_property_readonly("model_type", &models::CausalLM::model_type);

  py::class_<TableLM, models::CausalLM, std::shared_ptr<TableLM>>(m, "_TableLM",
                                                                   "Test model: logits = table[position, token] + history * table[position, prefix sum % vocab]")
      .def(py::init([](py::array_t<float, py::array::c_style | py::array::forcecast> table, float history) {
             if (table.ndim() != 3) throw InvalidArgument("_TableLM: table must be 3-D [positions, vocab, vocab]");
             Shape shape(table.shape(), table.shape() + 3);
             return std::make_shared<TableLM>(Tensor::from_data(DType::F32, shape, table.data()), history);
           }),
           py::arg("table"), py::arg("history") = 0.0f);

  m.def(
      "generate",
      [](const py::object& model, const py::object& input_ids, const py::object& streamer, const py::kwargs& kwargs) {
        // An encoder-decoder: input_ids are the encoder inputs; the decoder
        // starts from decoder_start_token_id (generation/seq2seq.h).
        std::shared_ptr<const models::Seq2SeqModel> seq2seq;
        std::shared_ptr<const models::CausalLM> lm;
        try {
          seq2seq = model.cast<std::shared_ptr<models::Seq2SeqModel>>();
        } catch (const py::cast_error&) {
          lm = as_causal_lm(model);
        }
        auto prompts = as_prompts(input_ids);
        CallSetup setup = setup_call(kwargs);
        GenerateOptions options;
        options.decode = setup.decode;
        options.top_logprobs = setup.top_logprobs;
        std::shared_ptr<py::object> keep_streamer;
        if (!streamer.is_none()) {
          keep_streamer = hold(streamer);
          options.on_token = [keep_streamer](const TokenEvent& e) {
            py::gil_scoped_acquire gil;
            py::object r = (*keep_streamer)(e.request, e.sequence, e.token, e.score, e.logprob, e.finished);
            return r.is_none() || r.cast<bool>();
          };
        }
        std::vector<GenerationOutput> out;
        {
          py::gil_scoped_release release;
          out = seq2seq ? generation::generate_seq2seq(seq2seq, prompts, setup.config, options)
                        : generation::generate(lm, prompts, setup.config, options);
        }
        return to_python(out);
      },
      py::arg("model"), py::arg("input_ids"), py::arg("streamer") = py::none(),
      "Generate for a list of prompts (lists of ids; ragged, no padding). Options as transformers' generate "
      "(max_new_tokens, do_sample, num_beams, ..., seed, stop_strings with tokenizer= or decode=, "
      "top_logprobs=N for the N most likely tokens per step, "
      "generation_config=folder or dict for defaults). streamer(item, sequence, token, score, logprob, finished) "
      "is called per new token; returning False cancels that item. Returns, per prompt, a list of "
      "{tokens, scores, logprobs, sequence_score, finish_reason}.");

  m.def(
      "generate_whisper",
      [](const std::shared_ptr<models::Seq2SeqModel>& model,
         const py::array_t<float, py::array::c_style | py::array::forcecast>& input_features, const py::kwargs& kwargs) {
        if (input_features.ndim() != 3) {
          throw InvalidArgument("input_features must be a 3-D float array [batch, num_mel_bins, frames]");
        }
        WhisperCallOptions call;
        WhisperGenerationConfig whisper;
        py::kwargs rest;
        for (auto item : kwargs) {
          const std::string key = py::str(item.first);
          if (key == "language" || key == "task") {
            if (!item.second.is_none()) (key == "language" ? call.language : call.task) = item.second.cast<std::string>();
          } else if (key == "return_timestamps") {
            if (!item.second.is_none()) call.return_timestamps = item.second.cast<bool>();
          } else if (key == "whisper_config") {
            // A generation_config.json path.
            if (!item.second.is_none()) {
              const std::string path = py::str(item.second).cast<std::string>();
              whisper = WhisperGenerationConfig::from_json(io::read_json(path), path);
            }
          } else {
            rest[item.first] = item.second;
          }
        }
        CallSetup setup = setup_call(rest);
        std::vector<WhisperOutput> out;
        {
          py::gil_scoped_release release;
          out = generation::generate_whisper(model, input_features.data(), input_features.shape(0),
                                             input_features.shape(1), input_features.shape(2), setup.config, whisper,
                                             call);
        }
        py::list items;
        for (const WhisperOutput& o : out) {
          std::vector<GenerationOutput> one{o.sequences};
          py::dict d;
          d["prompt"] = o.prompt;
          d["sequences"] = to_python(one)[0];
          items.append(d);
        }
        return items;
      },
      py::arg("model"), py::arg("input_features"),
      "Whisper generate for log-mel input_features [batch, mels, frames]: language=, task=, return_timestamps=, "
      "whisper_config= (a generation_config.json path: lang_to_id, task_to_id, no_timestamps_token_id, "
      "forced_decoder_ids), generation_config= and transformers' generate options. Returns per item "
      "{prompt, sequences}.");

  py::class_<Stream>(m, "GenerateStream")
      .def("__iter__", [](Stream& s) -> Stream& { return s; })
      .def("__next__", &Stream::next)
      .def("close", &Stream::close)
      .def_property_readonly("result", &Stream::result, "The generate result once the iterator is exhausted");
  m.def(
      "generate_stream",
      [](const py::object& model, const py::object& input_ids, const py::kwargs& kwargs) {
        return std::make_unique<Stream>(as_causal_lm(model), as_prompts(input_ids), setup_call(kwargs));
      },
      py::arg("model"), py::arg("input_ids"),
      "Like generate, as an iterator of (item, sequence, token, score, logprob, finished) produced by a "
      "background thread; .result holds the full result at the end.");

  m.def(
      "generation_config",
      [](const py::object& folder, const py::kwargs& kwargs) {
        GenerationConfig c;
        if (!folder.is_none()) c = GenerationConfig::from_pretrained(py::str(folder).cast<std::string>());
        c.update(py_to_json_dict(kwargs));
        c.validate();
        return json_to_py(c.to_json());
      },
      py::arg("folder") = py::none(),
      "The generation config of a model folder (generation_config.json, else config.json) updated by options, "
      "validated, as a dict");

  py::class_<LogitsProcessor, std::shared_ptr<LogitsProcessor>>(m, "LogitsProcessor")
      .def_property_readonly("name", &LogitsProcessor::name)
      .def("__call__", [](const LogitsProcessor& p, py::array_t<int64_t, py::array::c_style | py::array::forcecast> ids,
                          py::array_t<float, py::array::c_style | py::array::forcecast> scores) {
        if (ids.ndim() != 2 || scores.ndim() != 2 || ids.shape(0) != scores.shape(0))
          throw InvalidArgument("LogitsProcessor: input_ids [batch, len] and scores [batch, vocab] expected");
        py::array_t<float> out({scores.shape(0), scores.shape(1)});
        std::memcpy(out.mutable_data(), scores.data(), static_cast<size_t>(scores.size()) * sizeof(float));
        for (py::ssize_t b = 0; b < ids.shape(0); ++b) {
          p.apply(std::span<const int64_t>(ids.data() + b * ids.shape(1), static_cast<size_t>(ids.shape(1))),
                  std::span<float>(out.mutable_data() + b * scores.shape(1), static_cast<size_t>(scores.shape(1))));
        }
        return out;
      });
  m.def(
      "logits_processor",
      [](const std::string& name, const py::kwargs& kwargs) {
        return std::shared_ptr<LogitsProcessor>(make_logits_processor(name, py_to_json_dict(kwargs)));
      },
      py::arg("name"), "A logits processor by transformers' class name and constructor arguments");
  m.def(
      "logits_processors",
      [](const int64_t prompt_length, const py::kwargs& kwargs) {
        GenerationConfig c;
        c.update(py_to_json_dict(kwargs));
        c.validate();
        py::list names;
        for (const auto& p : make_logits_processors(c, prompt_length, c.resolved_max_length(prompt_length, 0)))
          names.append(p->name());
        return names;
      },
      py::arg("prompt_length"), "Class names of the processors generate builds for these options, in order");
}
