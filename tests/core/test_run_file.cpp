#define BOOST_TEST_MODULE run_file
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "framework/h5/run_file.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {
Provenance test_provenance() {
  Provenance p = current_provenance();
  p.torch_version = "test";
  p.threads = 2;
  return p;
}

// A file with every group filled; also the input of the h5py check (tests/python).
void write_full_file(const fs::path& path) {
  RunFileWriter w(path, "0123456789abcdef", "unit", "a: ${b}\nb: 1\n", "a: 1\nb: 1\n", test_provenance());
  w.set_params("params", ParamCounts{"lora", 1234, 100000, 4936, 2468});
  w.set_params("params/sd15", ParamCounts{"lora", 797184, 859520964, 3188736, 1594368});
  for (int64_t s = 1; s <= 5; ++s) w.append_train(s, 1.0f / float(s), 1e-4f, 0.1 * double(s));
  for (int64_t s = 1; s <= 3; ++s) w.append_dvar(s, 0.5f, s < 3 ? 1.0f : 0.2f);
  w.set_dvar(DvarSettings{3, 0.15, "monitor", 3});
  MetricPoint m;
  m.step = 5;
  m.scores = {{"clip_i", {0.5, 0.7}}, {"clip_t", {0.2, 0.4}}, {"dino", {0.1, 0.3}}};
  m.clip_backbone = "builtin:tiny-clip";
  m.dino_backbone = "builtin:tiny-dino";
  w.set_metrics("final", m);
  m.variant = "rank_2";  // an evaluation variant's point (docs/run_file_schema.md)
  m.objective = 0.125;
  w.set_metrics("final_rank_2", m);
  w.set_real_baselines({{"clip_i", 0.9}, {"dino", 0.8}});
  std::vector<uint8_t> images(2 * 4 * 6 * 3);
  for (size_t i = 0; i < images.size(); ++i) images[i] = uint8_t(i % 251);
  w.set_samples("final", images, 2, 4, 6, {"a photo of sks dog", "ünïcödé prompt ✓"}, {11, 12});
  w.set_samples("final_rank_2", images, 2, 4, 6, {"a photo of sks dog", "ünïcödé prompt ✓"}, {11, 12});
  w.set_samples("real", images, 2, 4, 6, {}, {});
  w.complete();
}
// Fixed location: the CTest fixture `run_file_sample` hands this file to tests/python/check_run_file.py.
fs::path binary_dir_for_h5py() {
  fs::path dir = test::binary_dir() / "test-scratch" / "h5py";
  fs::create_directories(dir);
  return dir;
}
}  // namespace

BOOST_AUTO_TEST_CASE(partial_while_running_final_when_complete) {
  fs::path dir = test::scratch_dir("run_file_complete");
  fs::path final_path = dir / "runs" / "abc.h5";
  {
    RunFileWriter w(final_path, "abc", "s", "x: 1\n", "x: 1\n", test_provenance());
    BOOST_TEST(fs::exists(w.partial_path()));
    BOOST_TEST(!fs::exists(final_path));
    BOOST_TEST(w.partial_path().string() == final_path.string() + ".partial");
    w.append_train(1, 0.5f, 1e-3f, 0.01);
    w.complete();
    BOOST_TEST(!fs::exists(w.partial_path()));
  }
  BOOST_TEST(fs::exists(final_path));
  RunFileSummary s = read_run_summary(final_path);
  BOOST_TEST(s.status == "complete");
  BOOST_TEST(s.run_id == "abc");
  BOOST_TEST(s.schema_version == 1);
  BOOST_TEST(!s.end_time.empty());
  BOOST_TEST(is_complete_run(final_path));
}

BOOST_AUTO_TEST_CASE(failed_run_keeps_its_file_with_the_error) {
  fs::path dir = test::scratch_dir("run_file_failed");
  fs::path final_path = dir / "f.h5";
  {
    RunFileWriter w(final_path, "f", "s", "", "", test_provenance());
    w.fail("loss became NaN at step 7");
  }
  RunFileSummary s = read_run_summary(final_path);
  BOOST_TEST(s.status == "failed");
  BOOST_TEST(s.error == "loss became NaN at step 7");
  BOOST_TEST(!is_complete_run(final_path));
}

BOOST_AUTO_TEST_CASE(unfinished_writer_leaves_only_the_partial) {
  fs::path dir = test::scratch_dir("run_file_unfinished");
  fs::path final_path = dir / "u.h5";
  {
    RunFileWriter w(final_path, "u", "s", "", "", test_provenance());
    w.append_train(1, 0.5f, 1e-3f, 0.01);
  }
  BOOST_TEST(!fs::exists(final_path));
  BOOST_TEST(fs::exists(final_path.string() + ".partial"));
  BOOST_TEST(read_run_summary(final_path.string() + ".partial").status == "running");
}

BOOST_AUTO_TEST_CASE(garbage_files_are_not_complete_runs) {
  fs::path dir = test::scratch_dir("run_file_garbage");
  std::ofstream(dir / "g.h5") << "not hdf5 at all";
  BOOST_TEST(!is_complete_run(dir / "g.h5"));
  BOOST_TEST(!is_complete_run(dir / "missing.h5"));
  BOOST_CHECK_THROW(read_run_summary(dir / "g.h5"), InputError);
}

BOOST_AUTO_TEST_CASE(round_trip_of_every_group) {
  fs::path dir = binary_dir_for_h5py();
  fs::path path = dir / "sample.h5";
  fs::remove(path);
  write_full_file(path);
  h5::Handle f = h5::open_file(path.string(), false);
  hid_t root = f.id();
  BOOST_TEST(h5::attr_int(root, "schema_version") == 1);
  BOOST_TEST(h5::read_string(root, "config/unresolved") == "a: ${b}\nb: 1\n");
  h5::Handle prov = h5::open_group(root, "provenance");
  BOOST_TEST(h5::attr_int(prov.id(), "threads") == 2);
  BOOST_TEST(h5::attr_string(prov.id(), "torch_version") == "test");
  h5::Handle params = h5::open_group(root, "params/sd15");
  BOOST_TEST(h5::attr_int(params.id(), "trainable") == 797184);
  BOOST_TEST(h5::read_int64s(root, "train/step") == (std::vector<int64_t>{1, 2, 3, 4, 5}));
  auto loss = h5::read_doubles(root, "train/loss");
  BOOST_TEST(loss.size() == 5u);
  BOOST_TEST(loss[3] == 0.25, boost::test_tools::tolerance(1e-7));
  h5::Handle dvar = h5::open_group(root, "dvar");
  BOOST_TEST(h5::attr_int(dvar.id(), "stop_step") == 3);
  BOOST_TEST(h5::attr_string(dvar.id(), "mode") == "monitor");
  h5::Handle final_metrics = h5::open_group(root, "metrics/final");
  BOOST_TEST(h5::attr_double(final_metrics.id(), "clip_i") == 0.6, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(h5::read_doubles(root, "metrics/final/dino") == (std::vector<double>{0.1, 0.3}));
  BOOST_TEST(!h5::has_attr(final_metrics.id(), "variant"));  // only variant points carry variant / objective
  h5::Handle variant = h5::open_group(root, "metrics/final_rank_2");
  BOOST_TEST(h5::attr_string(variant.id(), "variant") == "rank_2");
  BOOST_TEST(h5::attr_double(variant.id(), "objective") == 0.125);
  BOOST_TEST(h5::attr_double(variant.id(), "clip_i") == 0.6, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(h5::dims_of(root, "samples/final/images") == (std::vector<hsize_t>{2, 4, 6, 3}));
  BOOST_TEST(h5::read_uint8s(root, "samples/real/images").size() == 144u);
  BOOST_TEST(int(h5::read_uint8s(root, "samples/real/images")[143]) == 143);
  BOOST_TEST(h5::read_strings(root, "samples/final/prompts")[1] == "ünïcödé prompt ✓");
}

BOOST_AUTO_TEST_CASE(any_metric_is_written_under_its_name_and_schema_names_stay) {
  // The open metric seam: a metric beyond schema 1 ("psnr") lands beside the others;
  // a schema-1 metric that did not run is still there, NaN with no per-image values.
  fs::path path = test::scratch_dir("run_file_open_metrics") / "m.h5";
  {
    RunFileWriter w(path, "m", "s", "x: 1\n", "x: 1\n", test_provenance());
    MetricPoint m;
    m.step = 3;
    m.scores = {{"psnr", {20.0, 30.0}}, {"clip_i", {0.5}}};
    w.set_metrics("final", m);
    w.set_real_baselines({{"psnr", 40.0}});
    w.complete();
  }
  h5::Handle f = h5::open_file(path.string(), false);
  h5::Handle g = h5::open_group(f.id(), "metrics/final");
  BOOST_TEST(h5::attr_double(g.id(), "psnr") == 25.0);
  BOOST_TEST(h5::read_doubles(f.id(), "metrics/final/psnr") == (std::vector<double>{20.0, 30.0}));
  BOOST_TEST(h5::attr_double(g.id(), "clip_i") == 0.5);
  BOOST_TEST(std::isnan(h5::attr_double(g.id(), "dino")));
  BOOST_TEST(h5::read_doubles(f.id(), "metrics/final/dino").empty());
  std::vector<std::string> attrs = h5::attr_names(g.id());
  BOOST_TEST((std::count(attrs.begin(), attrs.end(), "psnr") == 1));
  h5::Handle metrics = h5::open_group(f.id(), "metrics");
  BOOST_TEST(h5::attr_double(metrics.id(), "psnr_real") == 40.0);
  BOOST_TEST(std::isnan(h5::attr_double(metrics.id(), "clip_i_real")));
}
