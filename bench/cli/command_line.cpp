#include "bench/cli/command_line.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace bench {
namespace {

// Drops every occurrence of a non-composing option but the last (Boost would
// refuse the second one with "cannot be specified more than once").
void keep_last(po::parsed_options& parsed, const po::options_description& options) {
  std::vector<po::option> kept;
  std::set<std::string> seen;
  for (auto it = parsed.options.rbegin(); it != parsed.options.rend(); ++it) {
    const po::option_description* d = options.find_nothrow(it->string_key, false);
    const bool composing = d && d->semantic()->is_composing();
    if (composing || seen.insert(it->string_key).second) kept.push_back(*it);
  }
  std::reverse(kept.begin(), kept.end());
  parsed.options = std::move(kept);
}

}  // namespace

po::variables_map parse_command_line(int argc, char** argv, const po::options_description& options) {
  // Words that are not options land here, to be reported by name.
  std::vector<std::string> stray;
  po::options_description all;
  all.add(options).add_options()("stray-argument", po::value(&stray)->composing());
  po::positional_options_description positional;
  positional.add("stray-argument", -1);
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

  po::variables_map vm;
  try {
    po::parsed_options parsed =
        po::command_line_parser(argc, argv).options(all).positional(positional).style(style).run();
    keep_last(parsed, all);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw UsageError("unknown option '" + e.get_option_name() + "'");
  } catch (const po::invalid_command_line_syntax& e) {
    if (e.kind() == po::invalid_syntax::missing_parameter) throw UsageError(e.get_option_name() + " needs a value");
    throw UsageError(e.what());
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (!stray.empty()) throw UsageError("unknown option '" + stray.front() + "'");
  return vm;
}

}  // namespace bench
