// The command line of the benchmark tools, through Boost.Program_options, with
// the behaviour their hand-written parsers had and their scripts rely on.
#pragma once

#include <stdexcept>

#include <boost/program_options.hpp>

namespace bench {

// A bad command line: what() is one line for the user (without the tool's name).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses argv against `options` and returns the values (defaults included).
// - "--key value" and "--key=value"; no abbreviated option names.
// - An option given twice keeps its last value, so a script can append an
//   override to a command line it built; options whose value is composing
//   (po::value<std::vector<...>>()->composing()) keep every value.
// - No positional arguments: a stray word is an unknown option.
// Throws UsageError ("unknown option '--x'", "--x needs a value", or Boost's
// message for a value that does not parse).
boost::program_options::variables_map parse_command_line(int argc, char** argv,
                                                         const boost::program_options::options_description& options);

}  // namespace bench
