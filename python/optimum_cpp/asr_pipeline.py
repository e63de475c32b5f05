"""pipeline("automatic-speech-recognition") for whisper checkpoints, equal to transformers' pipeline: inputs
are a file path (WAV/FLAC, decoded by libsndfile), bytes of such a file, a 1-D float array at the feature
extractor's sampling rate, or {"raw"|"array": samples, "sampling_rate": rate} (resampled with
optimum_cpp.resample when the rate differs). ``chunk_length_s`` cuts long audio into windows with
``stride_length_s`` (default chunk_length_s / 6) exactly as transformers' chunk_iter, and the windows'
tokens are merged by transformers' _decode_asr (longest common sequence, timestamps).
``return_timestamps=True`` gives {"text", "chunks": [{"text", "timestamp": (start, end)}]};
``return_timestamps="word"`` and ``return_language`` are refused. As transformers' pipeline, generation
defaults to num_beams=5 and max_new_tokens=256 unless the call or generation_config.json sets them.
"""

from __future__ import annotations

import os

import numpy as np

from .feature_extraction import AutoFeatureExtractor, load_audio, resample
from .speech_seq2seq import AutoModelForSpeechSeq2Seq
from .tokenization import AutoTokenizer


# GenerationConfig()'s defaults of the keys the pipeline defaults depend on.
_GENERATION_DEFAULTS = {"num_beams": 1, "max_length": 20}


class AutomaticSpeechRecognitionPipeline:
    task = "automatic-speech-recognition"

    def __init__(self, folder: str, **defaults):
        self.model = AutoModelForSpeechSeq2Seq.from_pretrained(folder)
        if not os.path.exists(os.path.join(folder, "preprocessor_config.json")):
            raise ValueError(f"automatic-speech-recognition: {folder} has no preprocessor_config.json (the "
                             "WhisperFeatureExtractor the pipeline needs); save it with the model")
        self.feature_extractor = AutoFeatureExtractor.from_pretrained(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self._defaults = defaults
        self._special = set(self._special_ids())

    def _special_ids(self):
        import json

        path = os.path.join(self.model.path, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            added = json.load(f).get("added_tokens", [])
        return [t["id"] for t in added if t.get("special")]

    def _token_id(self, token):
        return self.tokenizer.convert_tokens_to_ids(token)

    def _audio(self, inputs):
        rate = self.feature_extractor.sampling_rate
        if isinstance(inputs, (str, os.PathLike, bytes, bytearray)):
            return np.asarray(load_audio(inputs if not isinstance(inputs, bytearray) else bytes(inputs), rate)[0],
                              dtype=np.float32)
        if isinstance(inputs, dict):
            if "sampling_rate" not in inputs or not ("raw" in inputs or "array" in inputs):
                raise ValueError('automatic-speech-recognition: a dict input needs a "raw" (or "array") key with the '
                                 'samples and a "sampling_rate" key')
            if "stride" in inputs:
                raise ValueError("automatic-speech-recognition: a 'stride' in the input dict is not supported")
            samples = inputs["raw"] if "raw" in inputs else inputs["array"]
            samples = np.asarray(samples.cpu().numpy() if hasattr(samples, "cpu") else samples, dtype=np.float32)
            sr = int(inputs["sampling_rate"])
            if sr != rate:
                samples = np.asarray(resample(samples, sr, rate), dtype=np.float32)
            return samples
        if hasattr(inputs, "cpu"):
            inputs = inputs.cpu().numpy()
        if isinstance(inputs, np.ndarray):
            if inputs.ndim != 1:
                raise ValueError(f"automatic-speech-recognition: expected mono audio (1-D), got shape {inputs.shape}")
            return inputs.astype(np.float32)
        raise TypeError(f"automatic-speech-recognition: expected a file path, bytes, a numpy array or a dict, got "
                        f"{type(inputs).__name__}")

    def _with_pipeline_defaults(self, generate_kwargs):
        """transformers' ASR pipeline defaults (max_new_tokens=256, num_beams=5, as openai's whisper) for the
        parameters that neither the call nor the model's generation config set (its to_diff_dict)."""
        gen = self.model.generation_config
        file_set = {k for k, v in gen.items() if v is not None and v != _GENERATION_DEFAULTS.get(k, object())}
        set_params = file_set | set(generate_kwargs)
        out = dict(generate_kwargs)
        if "num_beams" not in set_params:
            out["num_beams"] = 5
        if "max_new_tokens" not in set_params and "max_length" not in set_params:
            out["max_new_tokens"] = 256
        return out

    def _windows(self, audio, chunk_length_s, stride_length_s):
        fe = self.feature_extractor
        rate = fe.sampling_rate
        if not chunk_length_s:
            if audio.shape[0] > fe.n_samples:
                raise ValueError(f"automatic-speech-recognition: the audio is {audio.shape[0] / rate:.1f} s long; "
                                 "pass chunk_length_s=30 for audio over 30 s (long-form generation is not supported)")
            yield fe(audio, sampling_rate=rate, return_tensors="np").input_features, None
            return
        if stride_length_s is None:
            stride_length_s = chunk_length_s / 6
        if isinstance(stride_length_s, (int, float)):
            stride_length_s = [stride_length_s, stride_length_s]
        align_to = 1  # transformers' _align_to for whisper (no CTC frames)
        chunk_len = int(round(chunk_length_s * rate / align_to) * align_to)
        stride_left = int(round(stride_length_s[0] * rate / align_to) * align_to)
        stride_right = int(round(stride_length_s[1] * rate / align_to) * align_to)
        if chunk_len < stride_left + stride_right:
            raise ValueError("Chunk length must be superior to stride length")
        n = audio.shape[0]
        step = chunk_len - stride_left - stride_right
        for start in range(0, n, step):
            end = start + chunk_len
            chunk = audio[start:end]
            feats = fe(chunk, sampling_rate=rate, return_tensors="np").input_features
            left = 0 if start == 0 else stride_left
            is_last = end >= n
            right = 0 if is_last else stride_right
            if chunk.shape[0] > left:
                yield feats, (chunk.shape[0], left, right)
            if is_last:
                break

    def __call__(self, inputs, **kwargs):
        options = {**self._defaults, **kwargs}
        if isinstance(inputs, list):
            return [self(x, **kwargs) for x in inputs]
        chunk_length_s = options.pop("chunk_length_s", 0)
        stride_length_s = options.pop("stride_length_s", None)
        return_timestamps = options.pop("return_timestamps", None)
        if options.pop("return_language", None):
            raise ValueError("automatic-speech-recognition: return_language=True is not supported yet")
        if return_timestamps == "word":
            raise ValueError("automatic-speech-recognition: return_timestamps='word' (word-level timestamps from "
                             "cross-attention) is not supported yet; use return_timestamps=True")
        generate_kwargs = dict(options.pop("generate_kwargs", None) or {})
        if "max_new_tokens" in options:
            generate_kwargs["max_new_tokens"] = options.pop("max_new_tokens")
        options.pop("batch_size", None)
        if options:
            raise ValueError(f"automatic-speech-recognition: unknown options {sorted(options)}")
        if return_timestamps is None:
            return_timestamps = self.model.generation_config.get("return_timestamps") or None
        generate_kwargs = self._with_pipeline_defaults(generate_kwargs)
        audio = self._audio(inputs)
        outputs = []
        for feats, stride in self._windows(audio, chunk_length_s, stride_length_s):
            tokens = self.model.generate(feats, return_timestamps=bool(return_timestamps) or None, **generate_kwargs)
            out = {"tokens": [[int(t) for t in tokens[0]]]}
            if stride is not None:
                rate = self.feature_extractor.sampling_rate
                out["stride"] = (stride[0] / rate, stride[1] / rate, stride[2] / rate)
            outputs.append(out)
        fe = self.feature_extractor
        time_precision = fe.chunk_length / self.model.config.get("max_source_positions", 1500)
        text, optional = _decode_asr(self, outputs, return_timestamps=return_timestamps, time_precision=time_precision)
        return {"text": text, **optional}


def _decode_asr(pipe, model_outputs, *, return_timestamps, time_precision, segment_size=1500):
    """transformers' whisper _decode_asr (without word timestamps and languages)."""
    tokenizer = pipe.tokenizer

    def new_chunk():
        return {"timestamp": [None, None], "text": ""}

    chunks = []
    chunk = new_chunk()
    time_offset = 0.0
    timestamp_begin = pipe._token_id("<|notimestamps|>") + 1
    previous_tokens = []
    skip = False
    right_stride_start = None
    all_special_ids = pipe._special
    prompt_token_id = pipe._token_id("<|startofprev|>")
    decoder_start_token_id = pipe._token_id("<|startoftranscript|>")
    for output in model_outputs:
        token_ids = list(output["tokens"][0])
        if prompt_token_id is not None and prompt_token_id in token_ids and decoder_start_token_id in token_ids:
            token_ids = token_ids[token_ids.index(decoder_start_token_id):]
        last_timestamp = None
        first_timestamp = timestamp_begin
        cur_max_timestamp = 0.0
        prev_segments_len = 0.0
        penultimate_timestamp = 0.0
        if "stride" in output:
            chunk_len, stride_left, stride_right = output["stride"]
            time_offset -= stride_left
            right_stride_start = chunk_len - stride_right
            if stride_left:
                first_timestamp = stride_left / time_precision + timestamp_begin
            if stride_right:
                for token in reversed(token_ids):
                    if token >= timestamp_begin:
                        if last_timestamp is not None and (token - timestamp_begin) * time_precision < right_stride_start:
                            break
                        last_timestamp = token
        current_tokens = []
        for i, token in enumerate(token_ids):
            if token in all_special_ids:
                pass  # languages are not reported (return_language is refused)
            elif token >= timestamp_begin:
                timestamp = float((token - timestamp_begin) * time_precision)
                if timestamp < cur_max_timestamp:
                    last_was_single_ending = i >= 2 and not (
                        token_ids[i - 1] >= timestamp_begin and token_ids[i - 2] >= timestamp_begin)
                    if last_was_single_ending:
                        prev_segments_len += time_precision * segment_size
                    else:
                        cur_max_timestamp = penultimate_timestamp
                        prev_segments_len += penultimate_timestamp
                penultimate_timestamp = cur_max_timestamp
                cur_max_timestamp = timestamp
                time = (token - timestamp_begin) * time_precision + time_offset + prev_segments_len
                time = round(time, 2)
                if last_timestamp and token >= last_timestamp:
                    skip = True
                elif skip or (previous_tokens and token < first_timestamp):
                    skip = False
                elif chunk["timestamp"][0] is None:
                    chunk["timestamp"][0] = time
                elif time != chunk["timestamp"][0]:
                    chunk["timestamp"][1] = time
                    previous_tokens.append(current_tokens)
                    chunk["text"] = tokenizer.decode(_find_longest_common_sequence(previous_tokens))
                    chunks.append(chunk)
                    previous_tokens = []
                    current_tokens = []
                    chunk = new_chunk()
            else:
                current_tokens.append(token)
        if "stride" in output:
            time_offset += chunk_len - stride_right
        if current_tokens:
            previous_tokens.append(current_tokens)
        elif not any(p for p in previous_tokens):
            chunk = new_chunk()
            previous_tokens = []
            current_tokens = []
    if previous_tokens:
        chunk["text"] = tokenizer.decode(_find_longest_common_sequence(previous_tokens))
        chunks.append(chunk)
    full_text = "".join(c["text"] for c in chunks)
    if return_timestamps:
        for c in chunks:
            c["timestamp"] = tuple(c["timestamp"])
        return full_text, {"chunks": chunks}
    return full_text, {}


def _find_longest_common_sequence(sequences):
    """transformers' whisper _find_longest_common_sequence (token ids only)."""
    left_sequence = sequences[0]
    left_length = len(left_sequence)
    total_sequence = []
    for right_sequence in sequences[1:]:
        max_ = 0.0
        max_indices = (left_length, left_length, 0, 0)
        right_length = len(right_sequence)
        for i in range(1, left_length + right_length):
            eps = i / 10000.0
            left_start = max(0, left_length - i)
            left_stop = min(left_length, left_length + right_length - i)
            left = np.array(left_sequence[left_start:left_stop])
            right_start = max(0, i - left_length)
            right_stop = min(right_length, i)
            right = np.array(right_sequence[right_start:right_stop])
            matches = np.sum(left == right)
            matching = matches / i + eps
            if matches > 1 and matching > max_:
                max_ = matching
                max_indices = (left_start, left_stop, right_start, right_stop)
        left_start, left_stop, right_start, right_stop = max_indices
        left_mid = (left_stop + left_start) // 2
        right_mid = (right_stop + right_start) // 2
        total_sequence.extend(left_sequence[:left_mid])
        left_sequence = right_sequence[right_mid:]
        left_length = len(left_sequence)
    total_sequence.extend(left_sequence)
    return total_sequence
