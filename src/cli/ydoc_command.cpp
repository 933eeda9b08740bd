// `blobsync ydoc json|sv|merge|diff` on top of blobsync::crdt.
//
// Root types without flags are guessed by crdt::resolve_root_types (docs/crdt.md).
#include "cli/ydoc_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "crdt/doc.h"
#include "crdt/root_types.h"
#include "crdt/state_vector.h"
#include "crdt/updates.h"

namespace blobsync {

namespace {

using crdt::Bytes;

// Failures leave through one exception type that main() prints as one line.
[[noreturn]] void die(const std::string& msg) { throw std::runtime_error(msg); }

Bytes read_input(const std::string& path) {
  if (path == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return Bytes(data.begin(), data.end());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_output(const std::string& path, const Bytes& data) {
  if (path == "-") {
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fflush(stdout);
    return;
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) die("cannot write " + path);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) die("cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) die("cannot write " + path);
}

void load(crdt::Doc& doc, const std::vector<std::string>& files) {
  for (auto& f : files) {
    Bytes data = read_input(f);
    auto r = doc.apply_update(data);
    if (!r) die(f + ": " + r.error().message);
  }
}

struct JsonOpts {
  std::vector<std::string> files;
  crdt::RootTypes roots;
};

void run_json(const JsonOpts& o) {
  crdt::Doc doc(1);
  load(doc, o.files);
  if (auto r = crdt::resolve_root_types(doc, o.roots); !r) die(r.error().message);
  std::printf("%s\n", doc.to_json().c_str());
}

void run_sv(const std::string& file) {
  crdt::Doc doc(1);
  load(doc, {file});
  std::printf("%s\n", crdt::state_vector_to_json(doc.state_vector()).c_str());
}

void run_merge(const std::vector<std::string>& files, const std::string& out) {
  std::vector<Bytes> data;
  for (auto& f : files) data.push_back(read_input(f));
  std::vector<crdt::ByteView> views(data.begin(), data.end());
  for (size_t i = 0; i < data.size(); ++i)
    if (auto d = crdt::decode_update(views[i]); !d) die(files[i] + ": " + d.error().message);
  auto merged = crdt::merge_updates(views);
  if (!merged) die(merged.error().message);
  write_output(out, *merged);
}

void run_diff(const std::string& file, const std::string& sv_file, const std::string& out) {
  Bytes update = read_input(file);
  Bytes sv = read_input(sv_file);
  if (auto d = crdt::decode_update(update); !d) die(file + ": " + d.error().message);
  if (auto s = crdt::decode_state_vector(sv); !s) die(sv_file + ": " + s.error().message);
  auto diff = crdt::diff_update(update, sv);
  if (!diff) die(diff.error().message);
  write_output(out, *diff);
}

}  // namespace

void add_ydoc_command(CLI::App& app) {
  CLI::App* ydoc = nullptr;
  try {
    ydoc = app.get_subcommand("ydoc");
  } catch (const CLI::OptionNotFound&) {
    ydoc = app.add_subcommand("ydoc", "Look inside Yjs documents");
  }
  ydoc->require_subcommand(1);

  auto json = std::make_shared<JsonOpts>();
  auto* j = ydoc->add_subcommand("json", "Apply v1 update files in order and print the document as yjs's toJSON");
  j->add_option("files", json->files, "Update files ('-' = stdin)")->required();
  j->add_option("--map", json->roots.maps, "Read root NAME as a Y.Map")->type_name("NAME")->allow_extra_args(false);
  j->add_option("--array", json->roots.arrays, "Read root NAME as a Y.Array")->type_name("NAME")->allow_extra_args(false);
  j->add_option("--text", json->roots.texts, "Read root NAME as a Y.Text")->type_name("NAME")->allow_extra_args(false);
  j->add_option("--xml", json->roots.xmls, "Read root NAME as a Y.XmlFragment")->type_name("NAME")->allow_extra_args(false);
  j->callback([json] { run_json(*json); });

  auto sv_file = std::make_shared<std::string>();
  auto* s = ydoc->add_subcommand("sv", "Print the state vector of an update as {\"client\": clock}");
  s->add_option("file", *sv_file, "Update file ('-' = stdin)")->required();
  s->callback([sv_file] { run_sv(*sv_file); });

  auto merge_files = std::make_shared<std::vector<std::string>>();
  auto merge_out = std::make_shared<std::string>();
  auto* m = ydoc->add_subcommand("merge", "Merge v1 updates into one");
  m->add_option("files", *merge_files, "Update files ('-' = stdin)")->required();
  m->add_option("-o,--out", *merge_out, "Output file ('-' = stdout)")->required();
  m->callback([merge_files, merge_out] { run_merge(*merge_files, *merge_out); });

  auto diff_file = std::make_shared<std::string>();
  auto diff_sv = std::make_shared<std::string>();
  auto diff_out = std::make_shared<std::string>();
  auto* d = ydoc->add_subcommand("diff", "Write the part of an update that a peer with state vector SVFILE lacks");
  d->add_option("file", *diff_file, "Update file ('-' = stdin)")->required();
  d->add_option("--sv", *diff_sv, "Binary encoded state vector")->required();
  d->add_option("-o,--out", *diff_out, "Output file ('-' = stdout)")->required();
  d->callback([diff_file, diff_sv, diff_out] { run_diff(*diff_file, *diff_sv, *diff_out); });
}

}  // namespace blobsync
