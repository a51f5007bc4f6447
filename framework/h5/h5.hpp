#pragma once
// A thin RAII layer over the HDF5 C API (Debian's HDF5 is the thread-safe
// build, where the C++ API is unsupported; TRAPS.md). Strings are always
// variable-length UTF-8 so h5py reads them as `str`.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pbench::h5 {

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer, const std::string& what);
  ~Handle();
  Handle(Handle&& o) noexcept;
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close();

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

Handle create_file(const std::string& path);  // truncates
Handle open_file(const std::string& path, bool writable);
Handle open_group(hid_t parent, const std::string& path);
Handle ensure_group(hid_t parent, const std::string& path);  // creates missing levels
bool exists(hid_t parent, const std::string& path);
void flush(hid_t file);

// Attributes (on a group, dataset or file root `loc`).
void set_attr(hid_t loc, const std::string& name, int64_t value);
void set_attr(hid_t loc, const std::string& name, double value);
void set_attr(hid_t loc, const std::string& name, const std::string& value);
void set_attr(hid_t loc, const std::string& name, const char* value);
bool has_attr(hid_t loc, const std::string& name);
// Names of the attributes on `loc`, in name order.
std::vector<std::string> attr_names(hid_t loc);
int64_t attr_int(hid_t loc, const std::string& name);
double attr_double(hid_t loc, const std::string& name);
std::string attr_string(hid_t loc, const std::string& name);

// Datasets.
void write_string(hid_t parent, const std::string& name, const std::string& text);  // scalar vlen UTF-8
std::string read_string(hid_t parent, const std::string& name);
void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_strings(hid_t parent, const std::string& name);

enum class Type { Int64, Float32, Float64, UInt8 };
// N-D dataset written in one go.
void write_array(hid_t parent, const std::string& name, Type type, const std::vector<hsize_t>& dims, const void* data);
std::vector<hsize_t> dims_of(hid_t parent, const std::string& name);
std::vector<double> read_doubles(hid_t parent, const std::string& name);  // any numeric type, flattened
std::vector<int64_t> read_int64s(hid_t parent, const std::string& name);
std::vector<uint8_t> read_uint8s(hid_t parent, const std::string& name);

// 1-D dataset that grows one row at a time (chunked, unlimited).
void create_series(hid_t parent, const std::string& name, Type type);
void append_row(hid_t parent, const std::string& name, Type type, const void* value);

}  // namespace pbench::h5
