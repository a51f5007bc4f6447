#include "framework/h5/h5.hpp"

#include <cerrno>
#include <stdexcept>

#include "framework/util/errors.hpp"

namespace pbench::h5 {
namespace {

// HDF5 prints its own error stack to stderr by default; our exceptions carry
// the message instead.
// And no cleanup at exit: after a write failed (full disk, ulimit -f) HDF5 1.10's
// exit handler closes the broken file again and crashes (SIGSEGV in H5F__close_cb),
// turning a one-line error into a signal. Every file is closed explicitly
// (Handle, RunFileWriter::finish), so there is nothing left for it to do.
struct SilenceHdf5 {
  SilenceHdf5() {
    H5dont_atexit();  // before the library initialises, i.e. before any other H5 call
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
};
const SilenceHdf5 silence_once;

void check(herr_t status, const std::string& what) {
  if (status < 0)
    throw std::runtime_error("HDF5: " + what + " failed (" +
                             (errno == ENOSPC ? std::string("no space left on the device")
                              : errno == EFBIG ? std::string("file size limit reached, ulimit -f or a quota")
                                               : std::string("a write or read error")) + ")");
}

hid_t native(Type t) {
  switch (t) {
    case Type::Int64: return H5T_NATIVE_INT64;
    case Type::Float32: return H5T_NATIVE_FLOAT;
    case Type::Float64: return H5T_NATIVE_DOUBLE;
    case Type::UInt8: return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_DOUBLE;
}

Handle vlen_utf8() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(t.id(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

Handle scalar_space() { return Handle(H5Screate(H5S_SCALAR), H5Sclose, "scalar dataspace"); }

Handle open_dataset(hid_t parent, const std::string& name) {
  return Handle(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
}

void remove_attr_if_present(hid_t loc, const std::string& name) {
  if (H5Aexists(loc, name.c_str()) > 0) check(H5Adelete(loc, name.c_str()), "delete attribute " + name);
}

void write_attr(hid_t loc, const std::string& name, hid_t type, const void* data) {
  remove_attr_if_present(loc, name);
  Handle space = scalar_space();
  Handle attr(H5Acreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              "create attribute " + name);
  check(H5Awrite(attr.id(), type, data), "write attribute " + name);
}

Handle open_attr(hid_t loc, const std::string& name) {
  return Handle(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
}

}  // namespace

Handle::Handle(hid_t id, Closer closer, const std::string& what) : id_(id), closer_(closer) {
  if (id < 0) throw std::runtime_error("HDF5: " + what + " failed");
}
Handle::~Handle() { close(); }
Handle::Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    close();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}
void Handle::close() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

Handle create_file(const std::string& path) {
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw InputError(path + ": cannot create HDF5 file (is the folder writable?)");
  return Handle(id, H5Fclose, "create " + path);
}

Handle open_file(const std::string& path, bool writable) {
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw InputError(path + ": cannot open as HDF5 (missing, truncated or not an HDF5 file)");
  return Handle(id, H5Fclose, "open " + path);
}

Handle open_group(hid_t parent, const std::string& path) {
  return Handle(H5Gopen2(parent, path.c_str(), H5P_DEFAULT), H5Gclose, "open group " + path);
}

bool exists(hid_t parent, const std::string& path) {
  // H5Lexists must be asked level by level.
  std::string prefix;
  size_t start = path[0] == '/' ? 1 : 0;
  if (start) prefix = "/";
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    prefix += (prefix.empty() || prefix == "/" ? "" : "/") + part;
    if (H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

Handle ensure_group(hid_t parent, const std::string& path) {
  if (!exists(parent, path)) {
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "link property list");
    check(H5Pset_create_intermediate_group(lcpl.id(), 1), "intermediate groups");
    return Handle(H5Gcreate2(parent, path.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                  "create group " + path);
  }
  return open_group(parent, path);
}

void flush(hid_t file) { check(H5Fflush(file, H5F_SCOPE_GLOBAL), "flush"); }

void set_attr(hid_t loc, const std::string& name, int64_t value) { write_attr(loc, name, H5T_NATIVE_INT64, &value); }
void set_attr(hid_t loc, const std::string& name, double value) { write_attr(loc, name, H5T_NATIVE_DOUBLE, &value); }
void set_attr(hid_t loc, const std::string& name, const char* value) { set_attr(loc, name, std::string(value)); }
void set_attr(hid_t loc, const std::string& name, const std::string& value) {
  Handle type = vlen_utf8();
  const char* ptr = value.c_str();
  write_attr(loc, name, type.id(), &ptr);
}

bool has_attr(hid_t loc, const std::string& name) { return H5Aexists(loc, name.c_str()) > 0; }

std::vector<std::string> attr_names(hid_t loc) {
  std::vector<std::string> names;
  hsize_t index = 0;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  check(H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names), "list attributes");
  return names;
}

int64_t attr_int(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  int64_t v = 0;
  check(H5Aread(attr.id(), H5T_NATIVE_INT64, &v), "read attribute " + name);
  return v;
}

double attr_double(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  double v = 0;
  check(H5Aread(attr.id(), H5T_NATIVE_DOUBLE, &v), "read attribute " + name);
  return v;
}

std::string attr_string(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  Handle type = vlen_utf8();
  char* ptr = nullptr;
  check(H5Aread(attr.id(), type.id(), &ptr), "read attribute " + name);
  std::string out = ptr ? ptr : "";
  H5free_memory(ptr);
  return out;
}

void write_string(hid_t parent, const std::string& name, const std::string& text) {
  Handle type = vlen_utf8();
  Handle space = scalar_space();
  Handle ds(H5Dcreate2(parent, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose, "create dataset " + name);
  const char* ptr = text.c_str();
  check(H5Dwrite(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &ptr), "write " + name);
}

std::string read_string(hid_t parent, const std::string& name) {
  Handle ds = open_dataset(parent, name);
  Handle type = vlen_utf8();
  char* ptr = nullptr;
  check(H5Dread(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &ptr), "read " + name);
  std::string out = ptr ? ptr : "";
  H5free_memory(ptr);
  return out;
}

void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  Handle type = vlen_utf8();
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose, "dataspace");
  Handle ds(H5Dcreate2(parent, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose, "create dataset " + name);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (n) check(H5Dwrite(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "write " + name);
}

namespace {
// A dataset's dims are a claim: a chunked one may claim 2^27 rows it never wrote (reading
// them gives fill values), so a 171 KB run file made make_table allocate 3.7 GB (issue 41).
// Data that was written is stored, at most ~1000x compressed (deflate's limit is 1032:1), so
// a claim past that of the bytes the file holds for it is refused before anything is allocated.
void check_claimed_size(hid_t ds, const std::string& name, hssize_t elements, size_t element_bytes) {
  const double claimed = double(elements) * double(element_bytes);
  const double stored = double(H5Dget_storage_size(ds));
  constexpr double kMaxRatio = 1100.0, kSlackBytes = double(1 << 20);
  if (claimed > kMaxRatio * stored + kSlackBytes)
    throw std::runtime_error("HDF5: dataset " + name + " claims " + std::to_string(elements) +
                             " values but the file stores " + std::to_string(int64_t(stored)) +
                             " bytes for it (a corrupt or crafted file)");
}

}  // namespace

std::vector<std::string> read_strings(hid_t parent, const std::string& name) {
  Handle ds = open_dataset(parent, name);
  Handle type = vlen_utf8();
  Handle space(H5Dget_space(ds.id()), H5Sclose, "dataspace");
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  check_claimed_size(ds.id(), name, n, sizeof(char*));
  std::vector<char*> ptrs(size_t(n), nullptr);
  if (n) check(H5Dread(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "read " + name);
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  if (n) H5Dvlen_reclaim(type.id(), space.id(), H5P_DEFAULT, ptrs.data());
  return out;
}

void write_array(hid_t parent, const std::string& name, Type type, const std::vector<hsize_t>& dims, const void* data) {
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose, "dataspace");
  Handle ds(H5Dcreate2(parent, name.c_str(), native(type), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose, "create dataset " + name);
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  if (total) check(H5Dwrite(ds.id(), native(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + name);
}

std::vector<hsize_t> dims_of(hid_t parent, const std::string& name) {
  Handle ds = open_dataset(parent, name);
  Handle space(H5Dget_space(ds.id()), H5Sclose, "dataspace");
  int rank = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return dims;
}

namespace {
template <class T>
std::vector<T> read_numeric(hid_t parent, const std::string& name, hid_t mem_type) {
  Handle ds = open_dataset(parent, name);
  Handle space(H5Dget_space(ds.id()), H5Sclose, "dataspace");
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  check_claimed_size(ds.id(), name, n, sizeof(T));
  std::vector<T> out(static_cast<size_t>(n));
  if (n) check(H5Dread(ds.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + name);
  return out;
}
}  // namespace

std::vector<double> read_doubles(hid_t parent, const std::string& name) {
  return read_numeric<double>(parent, name, H5T_NATIVE_DOUBLE);
}
std::vector<int64_t> read_int64s(hid_t parent, const std::string& name) {
  return read_numeric<int64_t>(parent, name, H5T_NATIVE_INT64);
}
std::vector<uint8_t> read_uint8s(hid_t parent, const std::string& name) {
  return read_numeric<uint8_t>(parent, name, H5T_NATIVE_UINT8);
}

void create_series(hid_t parent, const std::string& name, Type type) {
  hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = 1024;
  Handle space(H5Screate_simple(1, &zero, &unlimited), H5Sclose, "dataspace");
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset properties");
  check(H5Pset_chunk(dcpl.id(), 1, &chunk), "chunk");
  Handle ds(H5Dcreate2(parent, name.c_str(), native(type), space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
            H5Dclose, "create dataset " + name);
}

void append_row(hid_t parent, const std::string& name, Type type, const void* value) {
  Handle ds = open_dataset(parent, name);
  Handle space(H5Dget_space(ds.id()), H5Sclose, "dataspace");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.id(), &n, nullptr);
  hsize_t grown = n + 1, one = 1;
  check(H5Dset_extent(ds.id(), &grown), "extend " + name);
  Handle file_space(H5Dget_space(ds.id()), H5Sclose, "dataspace");
  check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, &n, nullptr, &one, nullptr), "select");
  Handle mem_space(H5Screate_simple(1, &one, nullptr), H5Sclose, "dataspace");
  check(H5Dwrite(ds.id(), native(type), mem_space.id(), file_space.id(), H5P_DEFAULT, value), "append " + name);
}

}  // namespace pbench::h5
