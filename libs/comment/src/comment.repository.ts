import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, MoreThan, Repository } from 'typeorm';
import { CommentEntity } from './comment.entity';

/** The `comments` source rows. */
@Injectable()
export class CommentRepository {
  constructor(@InjectRepository(CommentEntity) private readonly repo: Repository<CommentEntity>) {}

  /** Oldest first, keyset on `id`: every comment is reachable by paging. */
  listByVideo(videoId: number, idAfter: number | undefined, limit: number): Promise<CommentEntity[]> {
    return this.repo.find({
      where: idAfter ? { videoId, id: MoreThan(idAfter) } : { videoId },
      order: { id: 'ASC' },
      take: limit,
    });
  }

  findById(manager: EntityManager, id: number): Promise<CommentEntity | null> {
    return manager.findOne(CommentEntity, { where: { id } });
  }

  async insert(manager: EntityManager, row: Omit<CommentEntity, 'id'>): Promise<CommentEntity> {
    const result = await manager.insert(CommentEntity, row);
    return { ...row, id: Number((result.identifiers[0] as { id: number }).id) };
  }

  /** Rows deleted (0 when a concurrent delete won). */
  async delete(manager: EntityManager, id: number): Promise<number> {
    return (await manager.delete(CommentEntity, { id })).affected ?? 0;
  }

  async deleteByVideo(manager: EntityManager, videoId: number): Promise<void> {
    await manager.delete(CommentEntity, { videoId });
  }

  /** Rename: the denormalised author name. */
  async renameAuthor(manager: EntityManager, authorId: number, username: string): Promise<void> {
    await manager.update(CommentEntity, { authorId }, { username });
  }
}
