#pragma once
// safetensors reader and writer without LibTorch.
//
// Format (https://huggingface.co/docs/safetensors): 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets}} plus
// an optional "__metadata__" string->string map, then the byte buffer. The
// data_offsets are relative to the start of the byte buffer; the tensors must
// tile it exactly (no gaps, no overlaps, nothing left over). Data is
// little-endian, row-major.
//
// The reader validates all of that and throws pbench::InputError naming the
// file and the tensor. The torch bridge (framework/tensor/safetensors_torch)
// builds on this.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pbench::safetensors {

// Every dtype of the format specification.
enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
std::optional<DType> parse_dtype(const std::string& name);

// One tensor of a parsed file: where its bytes sit in the data buffer.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::size_t begin = 0;  // data_offsets[0], relative to the byte buffer
  std::size_t end = 0;    // data_offsets[1]
  std::size_t nbytes() const { return end - begin; }
  int64_t numel() const;
};

// A whole file held in memory (the parsed header plus the raw bytes).
class File {
 public:
  // Reads and validates `path`. Throws InputError on any malformation.
  static File read(const std::filesystem::path& path);
  // Validates bytes already in memory; `source` names them in errors.
  static File parse(std::vector<uint8_t> bytes, const std::string& source);

  const std::string& source() const { return source_; }
  // Sorted by name.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // Start of the tensor's bytes (valid while this File lives).
  const uint8_t* data(const TensorInfo& info) const { return bytes_->data() + data_start_ + info.begin; }

 private:
  std::string source_;
  std::shared_ptr<std::vector<uint8_t>> bytes_;
  std::size_t data_start_ = 0;  // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: the caller owns the bytes (little-endian, row-major).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  std::size_t nbytes = 0;
};

// Header and data laid out like the reference writer: "__metadata__" first
// (only when non-empty), then tensors sorted by name with their data in that
// order; the header is padded with spaces so the data starts 8-byte aligned.
// Throws InputError (naming `source`) for duplicate names, the reserved name,
// or a byte count that does not match shape x dtype size.
std::vector<uint8_t> serialize(const std::vector<TensorView>& tensors,
                               const std::map<std::string, std::string>& metadata,
                               const std::string& source = "<memory>");

// serialize() to `path` (written to a temporary name, then renamed, so a
// reader never sees a half-written file).
void write_file(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                const std::map<std::string, std::string>& metadata = {});

}  // namespace pbench::safetensors
