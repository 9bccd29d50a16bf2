// Host side of paged attention: turns query rows (positions and block tables) into
// the flat arrays the kernels read, including the (row, chunk) work list of the
// fixed-size key split. Plain C++; the arrays are uploaded as one block.
#pragma once

#include <cstdint>
#include <vector>

namespace kvactor::hip {

struct attention_plan {
  std::vector<int32_t> row_pos;         // [n_rows]
  std::vector<int32_t> row_table;       // [n_rows]: offset of the row's table in block_tables
  std::vector<int32_t> block_tables;    // concatenated tables, one per sequence
  std::vector<int32_t> work_row;        // [n_work]
  std::vector<int32_t> work_chunk;      // [n_work]
  std::vector<int32_t> row_first_work;  // [n_rows + 1]
};

// Appends one sequence's block table; returns its offset for row_table.
int32_t add_block_table(attention_plan& plan, const std::vector<int32_t>& table);

// Adds a query row at `pos` whose sequence's table starts at `table_offset`,
// with one work item per chunk of `chunk_keys` keys covering 0..pos.
void add_query_row(attention_plan& plan, int32_t pos, int32_t table_offset, int chunk_keys);

}  // namespace kvactor::hip
