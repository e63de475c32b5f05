#include "torch_pickle.h"

#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"

namespace optimum::io::detail {

namespace {

// The storage classes torch.save names (torch/storage.py
// _dtype_to_storage_type_map). The quantized ones are left out on purpose:
// their globals are refused like any foreign one.
constexpr std::array<TorchStorageType, 12> kStorageTypes{{
    {"FloatStorage", 4, DType::F32, "torch.float32"},
    {"HalfStorage", 2, DType::F16, "torch.float16"},
    {"BFloat16Storage", 2, DType::BF16, "torch.bfloat16"},
    {"DoubleStorage", 8, std::nullopt, "torch.float64"},
    {"LongStorage", 8, DType::I64, "torch.int64"},
    {"IntStorage", 4, DType::I32, "torch.int32"},
    {"CharStorage", 1, DType::I8, "torch.int8"},
    {"ShortStorage", 2, std::nullopt, "torch.int16"},
    {"ByteStorage", 1, std::nullopt, "torch.uint8"},
    {"BoolStorage", 1, std::nullopt, "torch.bool"},
    {"ComplexFloatStorage", 8, std::nullopt, "torch.complex64"},
    {"ComplexDoubleStorage", 16, std::nullopt, "torch.complex128"},
}};

// The callables and classes a torch checkpoint may name.
enum class Func : uint8_t {
  kOrderedDict,
  kRebuildTensor,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kTensorClass,
  kParameterClass,
  kStorageClass,
};

struct AllowedGlobal {
  std::string_view module;
  std::string_view name;
  Func func;
};

constexpr std::array<AllowedGlobal, 9> kAllowedGlobals{{
    {"collections", "OrderedDict", Func::kOrderedDict},
    {"torch._utils", "_rebuild_tensor", Func::kRebuildTensor},
    {"torch._utils", "_rebuild_tensor_v2", Func::kRebuildTensorV2},
    {"torch._utils", "_rebuild_parameter", Func::kRebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", Func::kRebuildParameterWithState},
    {"torch._tensor", "_rebuild_from_type_v2", Func::kRebuildFromTypeV2},
    {"torch._tensor", "Tensor", Func::kTensorClass},
    {"torch", "Tensor", Func::kTensorClass},
    {"torch.nn.parameter", "Parameter", Func::kParameterClass},
}};

enum class Kind : uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kStr,
  kBytes,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "a bool";
    case Kind::kInt:
      return "an int";
    case Kind::kFloat:
      return "a float";
    case Kind::kStr:
      return "a str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "a tuple";
    case Kind::kList:
      return "a list";
    case Kind::kDict:
      return "a dict";
    case Kind::kGlobal:
      return "a global";
    case Kind::kStorage:
      return "a storage";
    case Kind::kTensor:
      return "a tensor";
  }
  return "a value";
}

// One Python object of the pickle. Objects live in the machine's arena and
// point at each other with plain pointers: cycles (a list appended to
// itself) cost nothing and nothing is freed recursively.
struct Value {
  Kind kind = Kind::kNone;
  bool b = false;
  Func func = Func::kOrderedDict;  // global
  union {
    int64_t i = 0;
    double f;
  };
  std::string s;              // str, bytes; a global's "module.name"
  std::vector<Value*> items;  // tuple, list; dict as key, value, key, value...
  // Tensor; a storage uses storage_type/key/numel; a storage class global, storage_type.
  TorchTensorRecord* tensor = nullptr;
};

// Most objects a pickle may create (about 100 bytes each): state dicts need
// some 20 per tensor, and the cap keeps a hostile file from taking gigabytes.
constexpr size_t kMaxValues = size_t{1} << 23;

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF). Tensor names end up in JSON and Python strings.
bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<uint8_t>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// Names of the opcodes, for messages; known opcodes this machine refuses
// have a name but no case in run().
const char* opcode_name(uint8_t op) {
  switch (op) {
    case 'I':
      return "INT";
    case 'L':
      return "LONG";
    case 'S':
      return "STRING";
    case 'V':
      return "UNICODE";
    case 'F':
      return "FLOAT";
    case 'P':
      return "PERSID";
    case 'p':
      return "PUT";
    case 'g':
      return "GET";
    case 'i':
      return "INST";
    case 'o':
      return "OBJ";
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 0x8f:
      return "EMPTY_SET";
    case 0x90:
      return "ADDITEMS";
    case 0x91:
      return "FROZENSET";
    case 0x92:
      return "NEWOBJ_EX";
    case 0x96:
      return "BYTEARRAY8";
    case 0x97:
      return "NEXT_BUFFER";
    case 0x98:
      return "READONLY_BUFFER";
    default:
      return nullptr;
  }
}

class Machine {
 public:
  Machine(std::string_view in, const std::string& source) : in_(in), source_(source) {}

  Value* run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("invalid torch pickle " + source_ + " at byte " + std::to_string(op_pos_) + ": " +
                      what);
  }

  Value* make(Kind kind) {
    if (values_.size() >= kMaxValues) {
      throw Unsupported("torch pickle " + source_ + " creates more than " + std::to_string(kMaxValues) +
                        " objects");
    }
    values_.emplace_back();
    values_.back().kind = kind;
    return &values_.back();
  }
  TorchTensorRecord* make_record() {
    records_.emplace_back();
    return &records_.back();
  }
  Value* make_int(int64_t v) {
    Value* x = make(Kind::kInt);
    x->i = v;
    return x;
  }

  // Reading the opcode stream.
  const uint8_t* take(size_t n) {
    if (in_.size() - pos_ < n)
      fail("truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(in_.size() - pos_) +
           " left");
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + pos_);
    pos_ += n;
    return p;
  }
  uint64_t take_le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | p[k];
    return v;
  }
  std::string take_string(uint64_t n) {
    if (n > in_.size() - pos_) fail("string of " + std::to_string(n) + " bytes runs past the end");
    return std::string(reinterpret_cast<const char*>(take(static_cast<size_t>(n))), static_cast<size_t>(n));
  }
  std::string take_line() {
    const size_t nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos) fail("GLOBAL operand has no newline");
    std::string line(in_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return line;
  }

  // The stack.
  void push(Value* v) { stack_.push_back(v); }
  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops everything above the last MARK, and the mark.
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  Value* memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    return it->second;
  }

  Value* global(const std::string& module, const std::string& name);
  Value* call(Value* callable, Value* args);
  Value* rebuild_tensor(const std::vector<Value*>& args, bool v2);
  Value* persistent_load(Value* pid);

  void expect(const Value* v, Kind kind, const std::string& what) const {
    if (v->kind != kind) fail(what + " is " + kind_name(v->kind) + ", expected " + kind_name(kind));
  }
  std::vector<int64_t> int_tuple(const Value* v, const std::string& what) const {
    if (v->kind != Kind::kTuple && v->kind != Kind::kList)
      fail(what + " is " + kind_name(v->kind) + ", expected a tuple");
    std::vector<int64_t> out;
    out.reserve(v->items.size());
    for (const Value* e : v->items) {
      if (e->kind != Kind::kInt || e->i < 0)
        fail(what + " holds " + std::string(kind_name(e->kind)) + ", not a non-negative int");
      out.push_back(e->i);
    }
    return out;
  }

  std::string_view in_;
  const std::string& source_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::deque<Value> values_;
  std::deque<TorchTensorRecord> records_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
};

Value* Machine::global(const std::string& module, const std::string& name) {
  for (const AllowedGlobal& g : kAllowedGlobals) {
    if (module == g.module && name == g.name) {
      Value* v = make(Kind::kGlobal);
      v->s = module + "." + name;
      v->func = g.func;
      return v;
    }
  }
  if (module == "torch") {
    if (const TorchStorageType* st = find_storage_type(name)) {
      Value* v = make(Kind::kGlobal);
      v->s = "torch." + name;
      v->func = Func::kStorageClass;
      v->tensor = make_record();
      v->tensor->storage_type = st;
      return v;
    }
  }
  std::string allowed;
  for (const AllowedGlobal& g : kAllowedGlobals) {
    if (!allowed.empty()) allowed += ", ";
    allowed.append(g.module).append(".").append(g.name);
  }
  throw Unsupported("refusing to load " + source_ + ": it references the Python global " +
                    quote_untrusted(module + "." + name) +
                    ", which is not a torch tensor-rebuild function; model weights never run code "
                    "(accepted: " +
                    allowed + ", torch.<dtype>Storage)");
}

Value* Machine::persistent_load(Value* pid) {
  if (pid->kind != Kind::kTuple || pid->items.size() != 5) {
    fail("persistent id is " + std::string(kind_name(pid->kind)) +
         (pid->kind == Kind::kTuple ? " of " + std::to_string(pid->items.size()) + " items" : "") +
         ", expected ('storage', storage_type, key, location, numel)");
  }
  const auto& it = pid->items;
  if (it[0]->kind != Kind::kStr || it[0]->s != "storage") fail("persistent id does not start with 'storage'");
  if (it[1]->kind != Kind::kGlobal || it[1]->func != Func::kStorageClass) {
    fail("persistent id storage type is " + std::string(kind_name(it[1]->kind)) +
         (it[1]->kind == Kind::kGlobal ? " " + quote_untrusted(it[1]->s) : "") +
         ", not a torch storage class");
  }
  expect(it[2], Kind::kStr, "persistent id key");
  expect(it[3], Kind::kStr, "persistent id location");
  expect(it[4], Kind::kInt, "persistent id numel");
  if (it[2]->s.empty()) fail("persistent id key is empty");
  if (it[4]->i < 0) fail("persistent id numel " + std::to_string(it[4]->i) + " is negative");
  Value* v = make(Kind::kStorage);
  v->tensor = make_record();
  v->tensor->storage_type = it[1]->tensor->storage_type;
  v->tensor->storage_key = it[2]->s;
  v->tensor->storage_numel = it[4]->i;
  return v;
}

Value* Machine::rebuild_tensor(const std::vector<Value*>& args, bool v2) {
  const char* fn = v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor";
  const size_t n = args.size();
  if (v2 ? (n != 6 && n != 7) : n != 4) {
    fail(std::string(fn) + " called with " + std::to_string(n) + " arguments");
  }
  expect(args[0], Kind::kStorage, std::string(fn) + " storage");
  expect(args[1], Kind::kInt, std::string(fn) + " storage_offset");
  if (args[1]->i < 0)
    fail(std::string(fn) + " storage_offset " + std::to_string(args[1]->i) + " is negative");
  Value* t = make(Kind::kTensor);
  t->tensor = make_record();
  TorchTensorRecord& r = *t->tensor;
  r = *args[0]->tensor;
  r.storage_offset = args[1]->i;
  r.shape = int_tuple(args[2], std::string(fn) + " size");
  r.stride = int_tuple(args[3], std::string(fn) + " stride");
  if (r.shape.size() != r.stride.size()) {
    fail(std::string(fn) + " size " + shape_str(r.shape) + " and stride " + shape_str(r.stride) +
         " differ in length");
  }
  if (v2 && n == 7 && args[6]->kind != Kind::kNone) {
    // Set conj/neg bits change what the bytes mean; a plain reader cannot honour them.
    expect(args[6], Kind::kDict, "_rebuild_tensor_v2 metadata");
    for (size_t k = 1; k < args[6]->items.size(); k += 2) {
      const Value* bit = args[6]->items[k];
      if (bit->kind != Kind::kBool || bit->b) {
        const Value* key = args[6]->items[k - 1];
        throw Unsupported("tensor metadata " +
                          (key->kind == Kind::kStr ? quote_untrusted(key->s) : std::string("entry")) +
                          " in " + source_ + " (conjugate or negative view) is not supported");
      }
    }
  }
  return t;
}

Value* Machine::call(Value* callable, Value* args) {
  if (callable->kind != Kind::kGlobal) fail("REDUCE calls " + std::string(kind_name(callable->kind)));
  expect(args, Kind::kTuple, "arguments of " + callable->s);
  const auto& a = args->items;
  switch (callable->func) {
    case Func::kOrderedDict:
      if (!a.empty()) fail("collections.OrderedDict called with arguments");
      return make(Kind::kDict);
    case Func::kRebuildTensor:
      return rebuild_tensor(a, false);
    case Func::kRebuildTensorV2:
      return rebuild_tensor(a, true);
    case Func::kRebuildParameter:
    case Func::kRebuildParameterWithState: {
      const size_t want = callable->func == Func::kRebuildParameter ? 3 : 4;
      if (a.size() != want) fail(callable->s + " called with " + std::to_string(a.size()) + " arguments");
      expect(a[0], Kind::kTensor, callable->s + " data");
      return a[0];  // requires_grad, hooks and Python attributes do not matter for inference
    }
    case Func::kRebuildFromTypeV2: {
      if (a.size() != 4) fail(callable->s + " called with " + std::to_string(a.size()) + " arguments");
      expect(a[0], Kind::kGlobal, callable->s + " func");
      expect(a[1], Kind::kGlobal, callable->s + " type");
      if (a[1]->func != Func::kTensorClass && a[1]->func != Func::kParameterClass) {
        fail(callable->s + " type " + quote_untrusted(a[1]->s) + " is not a tensor class");
      }
      if (a[0]->func == Func::kRebuildFromTypeV2) fail(callable->s + " nested in itself");
      Value* out = call(a[0], a[2]);
      expect(out, Kind::kTensor, callable->s + " result");
      return out;
    }
    case Func::kTensorClass:
    case Func::kParameterClass:
    case Func::kStorageClass:
      fail(quote_untrusted(callable->s) + " cannot be called in a checkpoint");
  }
  fail("unreachable global");
}

Value* Machine::run() {
  while (true) {
    op_pos_ = pos_;
    const uint8_t op = *take(1);
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t proto = *take(1);
        if (proto > 5)
          throw Unsupported("pickle protocol " + std::to_string(proto) + " in " + source_ +
                            " is not supported");
        break;
      }
      case 0x95:  // FRAME: a length hint only
        take(8);
        break;
      case '.': {  // STOP
        if (stack_.empty()) fail("STOP with an empty stack");
        return stack_.back();
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP; on an empty mark it pops the mark, as Python's pickle does
        if (!marks_.empty() && stack_.size() == marks_.back()) {
          marks_.pop_back();
        } else {
          pop();
        }
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        push(top());
        break;
      case 'N':
        push(make(Kind::kNone));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        Value* v = make(Kind::kBool);
        v->b = op == 0x88;
        push(v);
        break;
      }
      case 'J':  // BININT
        push(make_int(static_cast<int32_t>(take_le(4))));
        break;
      case 'K':  // BININT1
        push(make_int(static_cast<int64_t>(take_le(1))));
        break;
      case 'M':  // BININT2
        push(make_int(static_cast<int64_t>(take_le(2))));
        break;
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        const uint64_t n = take_le(op == 0x8a ? 1 : 4);
        if (n > 8)
          throw Unsupported("pickle integer of " + std::to_string(n) + " bytes in " + source_ +
                            " exceeds 64 bits");
        const uint64_t raw = take_le(static_cast<size_t>(n));
        int64_t v = static_cast<int64_t>(raw);
        if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1)
          v = static_cast<int64_t>(raw | (~uint64_t{0} << (8 * n)));
        push(make_int(v));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];
        Value* v = make(Kind::kFloat);
        std::memcpy(&v->f, &bits, 8);
        push(v);
        break;
      }
      case 'X':     // BINUNICODE
      case 0x8c:    // SHORT_BINUNICODE
      case 0x8d:    // BINUNICODE8
      case 'T':     // BINSTRING
      case 'U':     // SHORT_BINSTRING
      case 'B':     // BINBYTES
      case 'C':     // SHORT_BINBYTES
      case 0x8e: {  // BINBYTES8
        const size_t len_bytes = (op == 0x8c || op == 'U' || op == 'C') ? 1
                                 : (op == 0x8d || op == 0x8e)           ? 8
                                                                        : 4;
        const uint64_t n = take_le(len_bytes);
        if (op == 'T' && n > 0x7fffffffu) fail("BINSTRING with a negative length");
        Value* v = make(op == 'B' || op == 'C' || op == 0x8e ? Kind::kBytes : Kind::kStr);
        v->s = take_string(n);
        if (v->kind == Kind::kStr && !is_utf8(v->s)) fail("string is not valid UTF-8");
        push(v);
        break;
      }
      case ')':
        push(make(Kind::kTuple));
        break;
      case 't': {  // TUPLE
        Value* v = make(Kind::kTuple);
        v->items = pop_mark();
        push(v);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84u;
        if (stack_.size() < floor() + n) fail("stack underflow");
        Value* v = make(Kind::kTuple);
        v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(v);
        break;
      }
      case ']':
        push(make(Kind::kList));
        break;
      case 'l': {  // LIST
        Value* v = make(Kind::kList);
        v->items = pop_mark();
        push(v);
        break;
      }
      case 'a': {  // APPEND
        Value* item = pop();
        Value* list = top();
        expect(list, Kind::kList, "APPEND target");
        list->items.push_back(item);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value*> items = pop_mark();
        Value* list = top();
        expect(list, Kind::kList, "APPENDS target");
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case '}':
        push(make(Kind::kDict));
        break;
      case 'd': {  // DICT
        std::vector<Value*> items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        Value* v = make(Kind::kDict);
        v->items = std::move(items);
        push(v);
        break;
      }
      case 's': {  // SETITEM
        Value* value = pop();
        Value* key = pop();
        Value* dict = top();
        expect(dict, Kind::kDict, "SETITEM target");
        dict->items.push_back(key);
        dict->items.push_back(value);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value*> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        Value* dict = top();
        expect(dict, Kind::kDict, "SETITEMS target");
        dict->items.insert(dict->items.end(), items.begin(), items.end());
        break;
      }
      case 'q':  // BINPUT
        memo_[take_le(1)] = top();
        break;
      case 'r':  // LONG_BINPUT
        memo_[take_le(4)] = top();
        break;
      case 0x94:  // MEMOIZE
        memo_[memo_.size()] = top();
        break;
      case 'h':  // BINGET
        push(memo_get(take_le(1)));
        break;
      case 'j':  // LONG_BINGET
        push(memo_get(take_le(4)));
        break;
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = take_line();
        std::string name = take_line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        expect(module, Kind::kStr, "STACK_GLOBAL module");
        expect(name, Kind::kStr, "STACK_GLOBAL name");
        push(global(module->s, name->s));
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        Value* args = pop();
        Value* cls = pop();
        if (cls->kind != Kind::kGlobal || cls->func != Func::kOrderedDict) {
          fail("NEWOBJ of " +
               (cls->kind == Kind::kGlobal ? quote_untrusted(cls->s) : std::string(kind_name(cls->kind))));
        }
        expect(args, Kind::kTuple, "NEWOBJ arguments");
        if (!args->items.empty()) fail("NEWOBJ of collections.OrderedDict with arguments");
        push(make(Kind::kDict));
        break;
      }
      case 'b': {  // BUILD: a state dict's _metadata, a parameter's attributes; not needed
        pop();
        const Value* obj = top();
        if (obj->kind != Kind::kDict && obj->kind != Kind::kTensor)
          fail("BUILD on " + std::string(kind_name(obj->kind)));
        break;
      }
      case 'Q':  // BINPERSID
        push(persistent_load(pop()));
        break;
      default: {
        if (const char* name = opcode_name(op)) {
          throw Unsupported("pickle opcode " + std::string(name) + " at byte " + std::to_string(op_pos_) +
                            " of " + source_ + " is not supported by the restricted torch unpickler");
        }
        static constexpr char kHex[] = "0123456789abcdef";
        fail(std::string("unknown opcode 0x") + kHex[op >> 4] + kHex[op & 15]);
      }
    }
  }
}

}  // namespace

const TorchStorageType* find_storage_type(std::string_view name) {
  for (const TorchStorageType& t : kStorageTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TorchStateDict unpickle_torch_state_dict(std::string_view pickle, const std::string& source) {
  Machine machine(pickle, source);
  const Value* root = machine.run();
  if (root->kind != Kind::kDict) {
    throw FormatError("torch pickle " + source + " holds " + kind_name(root->kind) +
                      ", not a state dict (a dict of tensors)");
  }
  TorchStateDict out;
  std::map<std::string, size_t> place;
  for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
    const Value* key = root->items[k];
    const Value* value = root->items[k + 1];
    if (key->kind != Kind::kStr) {
      throw FormatError("torch pickle " + source + " has a state dict key that is " + kind_name(key->kind) +
                        ", not a str");
    }
    if (value->kind != Kind::kTensor) {
      out.skipped.push_back(key->s);
      continue;
    }
    auto [it, fresh] = place.emplace(key->s, out.tensors.size());
    if (fresh) {
      out.tensors.emplace_back(key->s, *value->tensor);
    } else {
      out.tensors[it->second].second = *value->tensor;
    }
  }
  return out;
}

}  // namespace optimum::io::detail
