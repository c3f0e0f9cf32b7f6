/* Small dense linear algebra shared by the numeric probes (src/research/probe/): GEMM through
 * oneDNN, and in double precision a Cholesky factorisation, triangular solves and a
 * symmetric eigensolver (cyclic Jacobi) for the small matrices of LDA. */
#ifndef VEIL_PROBE_LINALG_H
#define VEIL_PROBE_LINALG_H

#include <stddef.h>
#include <stdint.h>

/* Row-major C (M x N) = alpha op(A) op(B) + beta C, op = 'N' or 'T' (oneDNN sgemm). */
int pm_sgemm(char ta, char tb, size_t m, size_t n, size_t k, float alpha, const float *a,
             size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
/* Lower Cholesky factor of the symmetric positive definite a (n x n) in place (upper
 * part zeroed); -1 (no message) when a is not positive definite. */
int pm_cholesky(double *a, int n);
/* Solve L x = b in place (L lower, n x n) for nrhs right-hand sides stored as rows of b
 * (nrhs x n): each row r becomes L^{-1} r. */
void pm_solve_lower_rows(const double *l, int n, double *b, size_t nrhs);
/* Solve L^T x = b in place, same layout. */
void pm_solve_upper_t_rows(const double *l, int n, double *b, size_t nrhs);
/* Eigenvalues (descending) and eigenvectors (columns of v, n x n row-major) of the
 * symmetric a (n x n; destroyed). Cyclic Jacobi until the off-diagonal is negligible. */
void pm_sym_eigen(double *a, int n, double *eval, double *v);
/* Mark a fraction of each class's rows as held out (1), at least one row of a class with
 * two or more rows and never all of them; deterministic for seed. */
void pm_holdout(const int *y, size_t n, int classes, double fraction, uint64_t seed, char *held);
/* The same hold-out as two lists of rows, each in order and with room for n: the rows a
 * probe fits on (kept) and those it chooses a value or stops on (held). */
void pm_holdout_rows(const int *y, size_t n, int classes, double fraction, uint64_t seed, size_t *kept,
                     size_t *n_kept, size_t *held, size_t *n_held);
/* Rows of logits (n x c) turned into log-softmax in place. */
void pm_log_softmax(double *z, size_t n, int c);

#endif
