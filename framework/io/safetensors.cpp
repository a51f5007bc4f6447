#include "framework/io/safetensors.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "framework/util/errors.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace pbench::safetensors {

namespace {

struct DTypeRow {
  DType dtype;
  const char* name;
  std::size_t size;
};
constexpr std::array<DTypeRow, 15> kDTypes = {{
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1}, {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},   {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},   {DType::U32, "U32", 4},   {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},   {DType::I64, "I64", 8},   {DType::U64, "U64", 8},
}};

// The reference implementation refuses headers above 100 MB; so do we, which
// also keeps a corrupt length from triggering a huge allocation.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

bool host_is_little_endian() {
  const uint16_t probe = 1;
  uint8_t first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// Byte count of a tensor, or nullopt on overflow.
std::optional<std::size_t> byte_count(const std::vector<int64_t>& shape, DType dtype) {
  std::size_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    std::size_t out = 0;
    if (__builtin_mul_overflow(n, static_cast<std::size_t>(d), &out)) return std::nullopt;
    n = out;
  }
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Parses the header JSON, refusing duplicate top-level names (a plain parse
// would silently keep the last one).
json parse_header(const std::string& text, const std::string& source) {
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, callback);
  } catch (const json::exception& e) {
    throw InputError(source + ": safetensors header: expected valid JSON (" + e.what() + ")");
  }
  if (!duplicate.empty())
    throw InputError(source + ": tensor '" + duplicate + "': name appears twice in the safetensors header");
  if (!header.is_object())
    throw InputError(source + ": safetensors header: expected a JSON object of tensors, got " +
                     std::string(header.type_name()));
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& source) {
  if (!value.is_object())
    throw InputError(source + ": __metadata__: expected an object of string values, got " +
                     std::string(value.type_name()));
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      throw InputError(source + ": __metadata__ key '" + key + "': expected a string value, got " +
                       std::string(v.type_name()));
    out[key] = v.get<std::string>();
  }
  return out;
}

TensorInfo parse_entry(const std::string& name, const json& entry, const std::string& source) {
  const std::string where = source + ": tensor '" + name + "': ";
  if (!entry.is_object()) throw InputError(where + "expected an object {dtype, shape, data_offsets}");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) throw InputError(where + "missing '" + key + "' in the header entry");

  TensorInfo info;
  info.name = name;
  if (!entry["dtype"].is_string()) throw InputError(where + "dtype: expected a string");
  auto dtype = parse_dtype(entry["dtype"].get<std::string>());
  if (!dtype) throw InputError(where + "unknown dtype '" + entry["dtype"].get<std::string>() + "'");
  info.dtype = *dtype;

  const json& shape = entry["shape"];
  if (!shape.is_array()) throw InputError(where + "shape: expected an array of integers");
  for (const auto& d : shape) {
    if (!d.is_number_integer()) throw InputError(where + "shape: expected integers, got " + d.dump());
    if (d.is_number_unsigned()) {
      uint64_t u = d.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) throw InputError(where + "shape entry " + d.dump() + " is too large");
      info.shape.push_back(int64_t(u));
    } else {
      int64_t v = d.get<int64_t>();
      if (v < 0) throw InputError(where + "shape entry " + std::to_string(v) + " is negative");
      info.shape.push_back(v);
    }
  }

  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    throw InputError(where + "data_offsets: expected [begin, end] with non-negative integers, got " +
                     offsets.dump());
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  if (info.end < info.begin)
    throw InputError(where + "data_offsets " + offsets.dump() + ": end is before begin");

  auto expected = byte_count(info.shape, info.dtype);
  if (!expected) throw InputError(where + "shape " + shape_text(info.shape) + " overflows the byte count");
  if (*expected != info.nbytes())
    throw InputError(where + "shape " + shape_text(info.shape) + " x " + dtype_name(info.dtype) + " needs " +
                     std::to_string(*expected) + " bytes but data_offsets " + offsets.dump() + " span " +
                     std::to_string(info.nbytes()));
  return info;
}

// The spec requires the tensors to tile the byte buffer: sorted by offset,
// each begins where the previous ended, the first at 0, the last at the end.
void check_tiling(std::vector<const TensorInfo*> by_offset, std::size_t buffer_bytes, const std::string& source) {
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  std::size_t cursor = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->end > buffer_bytes)
      throw InputError(source + ": tensor '" + t->name + "': data_offsets [" + std::to_string(t->begin) + "," +
                       std::to_string(t->end) + "] run past the data buffer of " + std::to_string(buffer_bytes) +
                       " bytes (file truncated?)");
    if (t->begin < cursor)
      throw InputError(source + ": tensor '" + t->name + "': data_offsets [" + std::to_string(t->begin) + "," +
                       std::to_string(t->end) + "] overlap tensor '" + previous->name + "' (ends at " +
                       std::to_string(cursor) + ")");
    if (t->begin > cursor)
      throw InputError(source + ": tensor '" + t->name + "': data_offsets begin at " + std::to_string(t->begin) +
                       " but the previous tensor" + (previous ? " '" + previous->name + "'" : std::string()) +
                       " ends at " + std::to_string(cursor) + ": the spec requires contiguous data");
    cursor = t->end;
    previous = t;
  }
  if (cursor != buffer_bytes)
    throw InputError(source + ": data buffer has " + std::to_string(buffer_bytes) + " bytes but the tensors cover " +
                     std::to_string(cursor) + (previous ? " (last: '" + previous->name + "')" : std::string()) +
                     ": expected the tensors to cover it exactly");
}

}  // namespace

std::size_t dtype_size(DType dtype) {
  for (const auto& row : kDTypes)
    if (row.dtype == dtype) return row.size;
  return 0;
}

const char* dtype_name(DType dtype) {
  for (const auto& row : kDTypes)
    if (row.dtype == dtype) return row.name;
  return "?";
}

std::optional<DType> parse_dtype(const std::string& name) {
  for (const auto& row : kDTypes)
    if (name == row.name) return row.dtype;
  return std::nullopt;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

File File::read(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))  // an ifstream opens a folder, and its size reads as -1 (issue 41: bad_alloc)
    throw InputError(path.string() + ": is a folder; expected a .safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open safetensors file");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) throw InputError(path.string() + ": cannot read its size; expected a .safetensors file");
  const auto size = static_cast<std::size_t>(end);
  in.seekg(0);
  std::vector<uint8_t> bytes(size);
  if (size && !in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
    throw InputError(path.string() + ": read error");
  return parse(std::move(bytes), path.string());
}

File File::parse(std::vector<uint8_t> bytes, const std::string& source) {
  if (!host_is_little_endian()) throw InputError(source + ": safetensors needs a little-endian host");
  if (bytes.size() < 8)
    throw InputError(source + ": truncated safetensors file: " + std::to_string(bytes.size()) +
                     " bytes, expected at least the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[std::size_t(i)];
  if (header_len > bytes.size() - 8)
    throw InputError(source + ": header length " + std::to_string(header_len) + " is larger than the " +
                     std::to_string(bytes.size() - 8) + " bytes after it (truncated or not a safetensors file)");
  if (header_len > kMaxHeaderBytes)
    throw InputError(source + ": header length " + std::to_string(header_len) + " exceeds the 100 MB limit");

  File file;
  file.source_ = source;
  file.data_start_ = 8 + std::size_t(header_len);
  const std::string text(reinterpret_cast<const char*>(bytes.data() + 8), std::size_t(header_len));
  json header = parse_header(text, source);

  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      file.metadata_ = parse_metadata(entry, source);
      continue;
    }
    file.tensors_.push_back(parse_entry(name, entry, source));
  }
  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });

  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : file.tensors_) by_offset.push_back(&t);
  check_tiling(std::move(by_offset), bytes.size() - file.data_start_, source);

  file.bytes_ = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  return file;
}

std::vector<uint8_t> serialize(const std::vector<TensorView>& tensors,
                               const std::map<std::string, std::string>& metadata, const std::string& source) {
  std::vector<const TensorView*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const TensorView* a, const TensorView* b) { return a->name < b->name; });

  // The header is written by hand so that the key order matches the
  // reference writer (metadata first; dtype, shape, data_offsets).
  std::string header = "{";
  if (!metadata.empty()) header += std::string("\"") + kMetadataKey + "\":" + json(metadata).dump() + ",";
  std::size_t offset = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const TensorView& t = *sorted[i];
    if (t.name == kMetadataKey) throw InputError(source + ": tensor '" + t.name + "': reserved name");
    if (i > 0 && sorted[i - 1]->name == t.name)
      throw InputError(source + ": tensor '" + t.name + "': name given twice");
    for (int64_t d : t.shape)
      if (d < 0) throw InputError(source + ": tensor '" + t.name + "': negative shape entry");
    auto expected = byte_count(t.shape, t.dtype);
    if (!expected || *expected != t.nbytes)
      throw InputError(source + ": tensor '" + t.name + "': shape " + shape_text(t.shape) + " x " +
                       dtype_name(t.dtype) + " does not match the " + std::to_string(t.nbytes) + " bytes given");
    header += json(t.name).dump() + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":" +
              shape_text(t.shape) + ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.nbytes) + "]}";
    header += i + 1 < sorted.size() ? "," : "";
    offset += t.nbytes;
  }
  header += "}";
  // Pad with spaces (valid JSON whitespace) so that 8 + header is a multiple of 8.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::vector<uint8_t> out;
  out.reserve(8 + header.size() + offset);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t((n >> (8 * i)) & 0xff));
  out.insert(out.end(), header.begin(), header.end());
  for (const TensorView* t : sorted) {
    const auto* p = static_cast<const uint8_t*>(t->data);
    if (t->nbytes) out.insert(out.end(), p, p + t->nbytes);
  }
  return out;
}

void write_file(const fs::path& path, const std::vector<TensorView>& tensors,
                const std::map<std::string, std::string>& metadata) {
  std::vector<uint8_t> bytes = serialize(tensors, metadata, path.string());
  fs::path tmp = path;
  tmp += ".partial";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path.string() + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw InputError(path.string() + ": write error");
  }
  fs::rename(tmp, path);
}

}  // namespace pbench::safetensors
