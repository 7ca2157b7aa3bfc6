// SPDX-License-Identifier: Apache-2.0
/* placeholder: filled in by its owner */
