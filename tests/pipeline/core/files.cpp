#include <boost/test/unit_test.hpp>

#include "pipeline/core/files.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

using cotflow::check_appendable;
namespace fs = std::filesystem;

namespace {

struct scratch {
  scratch() {
    fs::create_directories(dir);
  }
  ~scratch() {
    fs::remove_all(dir);
  }
  fs::path dir = fs::temp_directory_path()
                 / ("cotflow-files-" + std::to_string(getpid()));
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(files, scratch)

BOOST_AUTO_TEST_CASE(a_missing_file_in_a_writable_folder_is_not_left_behind) {
  auto path = (dir / "out.cot").string();
  BOOST_TEST(!check_appendable(path));
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_opened_and_left_as_it_was) {
  auto path = (dir / "out.cot").string();
  std::ofstream{path} << "<event/>\n";
  BOOST_TEST(!check_appendable(path));
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  BOOST_TEST(text.str() == "<event/>\n");
}

BOOST_AUTO_TEST_CASE(a_path_that_cannot_be_appended_to_says_why) {
  std::ofstream{dir / "file"} << "x";
  const std::pair<std::string, std::string> cases[] = {
    {(dir / "no-such-folder" / "out.cot").string(), "No such file"},
    {dir.string(), "Is a directory"},
    {(dir / "file" / "out.cot").string(), "Not a directory"},
  };
  for (auto& [path, why] : cases) {
    auto problem = check_appendable(path);
    BOOST_REQUIRE_MESSAGE(problem, path);
    BOOST_TEST(problem->find("cannot open " + path + " for appending: " + why)
                 == 0u,
               *problem);
  }
}

BOOST_AUTO_TEST_SUITE_END()
