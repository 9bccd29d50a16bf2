#include "model/gguf_reader.hpp"

#include "model/model.hpp"

namespace kvactor::gguf {
namespace {

// Smallest encodings, used to bound counts by the bytes left in the file.
constexpr uint64_t min_kv_bytes = 8 + 4 + 1;
constexpr uint64_t min_tensor_info_bytes = 8 + 4 + 8 + 4 + 8;
constexpr int max_array_depth = 4;
constexpr uint64_t max_elements = uint64_t{1} << 40;  // keeps byte counts far from overflow

uint64_t min_value_bytes(value_type t) {
  if (t == value_type::string) return 8;
  if (t == value_type::array) return 12;
  return value_type_size(t);
}

bool is_valid_type(uint32_t t) { return t <= static_cast<uint32_t>(value_type::float64); }

}  // namespace

uint64_t tensor_info::n_elements() const {
  uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

reader::reader(const std::string& path) : file_(path) {
  const auto m = file_.read_value<uint32_t>("the magic number");
  if (m != magic) fail("not a GGUF file (magic number is not \"GGUF\")");
  version_ = file_.read_value<uint32_t>("the version");
  if (version_ != 2 && version_ != 3)
    fail("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  const auto n_tensors = file_.read_value<uint64_t>("the tensor count");
  const auto n_kv = file_.read_value<uint64_t>("the metadata count");
  if (n_kv > file_.remaining() / min_kv_bytes)
    fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file (truncated or corrupt)");
  if (n_tensors > file_.remaining() / min_tensor_info_bytes)
    fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file (truncated or corrupt)");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string("a metadata key");
    const auto t = file_.read_value<uint32_t>("a metadata value type");
    if (!is_valid_type(t)) fail("metadata key '" + key + "' has unknown value type " + std::to_string(t));
    value v = read_value(static_cast<value_type>(t), key, 0);
    if (!metadata_.emplace(key, std::move(v)).second) fail("metadata key '" + key + "' appears twice");
  }

  if (const value* a = find("general.alignment")) {
    if (a->type != value_type::uint32) fail("general.alignment must be uint32");
    if (a->uint_value == 0 || (a->uint_value & (a->uint_value - 1)) != 0 || a->uint_value > (1u << 20))
      fail("general.alignment " + std::to_string(a->uint_value) + " is not a power of two up to 1 MiB");
    alignment_ = static_cast<uint32_t>(a->uint_value);
  }

  tensors_.reserve(static_cast<std::size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    tensor_info t;
    t.name = read_string("a tensor name");
    const auto n_dims = file_.read_value<uint32_t>("a tensor's dimension count");
    if (n_dims == 0 || n_dims > max_dims)
      fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (1.." + std::to_string(max_dims) +
           " allowed)");
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      t.ne.push_back(file_.read_value<uint64_t>("a tensor dimension"));
      if (t.ne.back() == 0 || t.ne.back() > max_elements || n > max_elements / t.ne.back())
        fail("tensor '" + t.name + "' has an absurd dimension " + std::to_string(t.ne.back()));
      n *= t.ne.back();
    }
    t.type = file_.read_value<uint32_t>("a tensor type");
    t.offset = file_.read_value<uint64_t>("a tensor offset");
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail("tensor '" + t.name + "' appears twice");
    tensors_.push_back(std::move(t));
  }
  data_offset_ = (file_.offset() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > file_.size() && !tensors_.empty())
    fail("truncated: tensor data would start at offset " + std::to_string(data_offset_) + " but the file has " +
         std::to_string(file_.size()) + " bytes");

  // Check every tensor we can size now, so truncation is reported on open.
  for (const auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      fail("tensor '" + t.name + "' data offset " + std::to_string(t.offset) + " is not aligned to " +
           std::to_string(alignment_));
    if (dtype_block_elements(static_cast<dtype>(t.type)) == 0) continue;  // unknown: reported if a loader needs it
    const uint64_t bytes = tensor_bytes(t);
    if (t.offset > file_.size() || data_offset_ + t.offset > file_.size() ||
        bytes > file_.size() - data_offset_ - t.offset)
      fail("truncated: tensor '" + t.name + "' (" + std::to_string(bytes) + " bytes at data offset " +
           std::to_string(t.offset) + ") extends past the end of the file (" + std::to_string(file_.size()) +
           " bytes)");
  }
}

std::string reader::read_string(const char* what) {
  const auto len = file_.read_value<uint64_t>(what);
  if (len > file_.remaining())
    fail("truncated or corrupt: " + std::string(what) + " claims " + std::to_string(len) + " bytes at offset " +
         std::to_string(file_.offset()) + " but only " + std::to_string(file_.remaining()) + " remain");
  const auto bytes = file_.read_bytes(len, what);
  return std::string(bytes.begin(), bytes.end());
}

value reader::read_value(value_type t, const std::string& key, int depth) {
  value v;
  v.type = t;
  switch (t) {
    case value_type::uint8: v.uint_value = file_.read_value<uint8_t>("a metadata value"); break;
    case value_type::uint16: v.uint_value = file_.read_value<uint16_t>("a metadata value"); break;
    case value_type::uint32: v.uint_value = file_.read_value<uint32_t>("a metadata value"); break;
    case value_type::uint64: v.uint_value = file_.read_value<uint64_t>("a metadata value"); break;
    case value_type::int8: v.int_value = file_.read_value<int8_t>("a metadata value"); break;
    case value_type::int16: v.int_value = file_.read_value<int16_t>("a metadata value"); break;
    case value_type::int32: v.int_value = file_.read_value<int32_t>("a metadata value"); break;
    case value_type::int64: v.int_value = file_.read_value<int64_t>("a metadata value"); break;
    case value_type::float32: v.float_value = file_.read_value<float>("a metadata value"); break;
    case value_type::float64: v.float_value = file_.read_value<double>("a metadata value"); break;
    case value_type::boolean: {
      const auto b = file_.read_value<uint8_t>("a metadata value");
      if (b > 1) fail("metadata key '" + key + "' has bool value " + std::to_string(b));
      v.uint_value = b;
      break;
    }
    case value_type::string: v.string_value = read_string("a metadata string"); break;
    case value_type::array: {
      if (depth >= max_array_depth) fail("metadata key '" + key + "' nests arrays too deeply");
      const auto et = file_.read_value<uint32_t>("an array element type");
      if (!is_valid_type(et)) fail("metadata key '" + key + "' is an array of unknown type " + std::to_string(et));
      v.element_type = static_cast<value_type>(et);
      const auto count = file_.read_value<uint64_t>("an array length");
      if (count > file_.remaining() / min_value_bytes(v.element_type))
        fail("metadata key '" + key + "': array of " + std::to_string(count) + " " + value_type_name(v.element_type) +
             " elements cannot fit in the " + std::to_string(file_.remaining()) + " bytes left (truncated or corrupt)");
      v.elements.reserve(static_cast<std::size_t>(count));
      for (uint64_t i = 0; i < count; ++i) v.elements.push_back(read_value(v.element_type, key, depth + 1));
      break;
    }
  }
  return v;
}

const value* reader::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const tensor_info* reader::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t reader::get_uint(const std::string& key) const {
  const value* v = find(key);
  if (!v) fail("metadata key '" + key + "' is missing");
  switch (v->type) {
    case value_type::uint8:
    case value_type::uint16:
    case value_type::uint32:
    case value_type::uint64: return v->uint_value;
    case value_type::int8:
    case value_type::int16:
    case value_type::int32:
    case value_type::int64:
      if (v->int_value < 0) fail("metadata key '" + key + "' is negative (" + std::to_string(v->int_value) + ")");
      return static_cast<uint64_t>(v->int_value);
    default: fail("metadata key '" + key + "' should be an integer but is " + value_type_name(v->type));
  }
}

uint64_t reader::get_uint(const std::string& key, uint64_t fallback) const {
  return find(key) ? get_uint(key) : fallback;
}

double reader::get_float(const std::string& key, double fallback) const {
  const value* v = find(key);
  if (!v) return fallback;
  if (v->type != value_type::float32 && v->type != value_type::float64)
    fail("metadata key '" + key + "' should be a float but is " + value_type_name(v->type));
  return v->float_value;
}

std::string reader::get_string(const std::string& key) const {
  const value* v = find(key);
  if (!v) fail("metadata key '" + key + "' is missing");
  if (v->type != value_type::string)
    fail("metadata key '" + key + "' should be a string but is " + value_type_name(v->type));
  return v->string_value;
}

std::vector<std::string> reader::get_string_array(const std::string& key) const {
  const value* v = find(key);
  if (!v) fail("metadata key '" + key + "' is missing");
  if (v->type != value_type::array || v->element_type != value_type::string)
    fail("metadata key '" + key + "' should be an array of strings");
  std::vector<std::string> out;
  out.reserve(v->elements.size());
  for (const auto& e : v->elements) out.push_back(e.string_value);
  return out;
}

std::vector<float> reader::get_float_array(const std::string& key) const {
  const value* v = find(key);
  if (!v) fail("metadata key '" + key + "' is missing");
  if (v->type != value_type::array ||
      (v->element_type != value_type::float32 && v->element_type != value_type::float64))
    fail("metadata key '" + key + "' should be an array of floats");
  std::vector<float> out;
  out.reserve(v->elements.size());
  for (const auto& e : v->elements) out.push_back(static_cast<float>(e.float_value));
  return out;
}

std::vector<int32_t> reader::get_int_array(const std::string& key) const {
  const value* v = find(key);
  if (!v) fail("metadata key '" + key + "' is missing");
  if (v->type != value_type::array) fail("metadata key '" + key + "' should be an array of integers");
  std::vector<int32_t> out;
  out.reserve(v->elements.size());
  for (const auto& e : v->elements) {
    switch (v->element_type) {
      case value_type::int8:
      case value_type::int16:
      case value_type::int32: out.push_back(static_cast<int32_t>(e.int_value)); break;
      case value_type::uint8:
      case value_type::uint16: out.push_back(static_cast<int32_t>(e.uint_value)); break;
      case value_type::uint32:
        if (e.uint_value > INT32_MAX) fail("metadata key '" + key + "' holds a value too large for int32");
        out.push_back(static_cast<int32_t>(e.uint_value));
        break;
      default: fail("metadata key '" + key + "' should be an array of 32-bit integers");
    }
  }
  return out;
}

uint64_t reader::tensor_bytes(const tensor_info& t) const {
  const auto type = static_cast<dtype>(t.type);
  const int64_t block = dtype_block_elements(type);
  if (block == 0)
    fail("tensor '" + t.name + "' has unsupported type " + ggml_type_name(t.type) + " (ggml type " +
         std::to_string(t.type) + ")");
  if (t.ne[0] % static_cast<uint64_t>(block) != 0)
    fail("tensor '" + t.name + "' is " + ggml_type_name(t.type) + " but its row length " + std::to_string(t.ne[0]) +
         " is not a multiple of its block of " + std::to_string(block));
  return t.n_elements() / static_cast<uint64_t>(block) * dtype_block_bytes(type);
}

std::vector<uint8_t> reader::read_tensor(const tensor_info& t) {
  const uint64_t bytes = tensor_bytes(t);
  file_.seek(data_offset_ + t.offset, "tensor data");
  return file_.read_bytes(bytes, ("tensor '" + t.name + "'").c_str());
}

reader::tensor_view reader::map_tensor(const tensor_info& t) {
  const uint64_t bytes = tensor_bytes(t);
  if (!mapping_) mapping_ = mapped_file::open(path());
  // The constructor checked the extent against the size it saw; the file may have changed since.
  if (data_offset_ + t.offset > mapping_->size() || bytes > mapping_->size() - data_offset_ - t.offset)
    fail("tensor '" + t.name + "' extends past the end of the mapped file (" + std::to_string(mapping_->size()) +
         " bytes)");
  return {mapping_, mapping_->data() + data_offset_ + t.offset, static_cast<std::size_t>(bytes)};
}

}  // namespace kvactor::gguf
