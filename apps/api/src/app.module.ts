import { DynamicModule, Module } from '@nestjs/common';
import { CacheModule } from '@app/cache';
import { AppConfig, ConfigModule, DatabaseModule, loadConfig } from '@app/core';
import { EventsModule } from '@app/events';
import { SCHEMA } from '@app/schema';
import { AccountHttpModule } from './account/account-http.module';
import { CommentHttpModule } from './comment/comment-http.module';
import { FeedHttpModule } from './feed/feed-http.module';
import { HealthController } from './health/health.controller';
import { HttpEdgeModule } from './http/http-edge.module';
import { LikeHttpModule } from './like/like-http.module';
import { MessageHttpModule } from './message/message-http.module';
import { MetricsServer } from './metrics/metrics-server';
import { NotificationHttpModule } from './notification/notification-http.module';
import { MetricsService } from './metrics/metrics.service';
import { SocialHttpModule } from './social/social-http.module';
import { UploadHttpModule } from './upload/upload-http.module';
import { VideoHttpModule } from './video/video-http.module';

@Module({})
export class AppModule {
  static forRoot(config?: AppConfig): DynamicModule {
    const resolved = config ?? loadConfig();
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(resolved),
        DatabaseModule.forRoot(SCHEMA, { readSessions: resolved.databaseReplicaUrls.length > 0 }),
        CacheModule,
        EventsModule,
        HttpEdgeModule,
        AccountHttpModule,
        VideoHttpModule,
        LikeHttpModule,
        CommentHttpModule,
        SocialHttpModule,
        FeedHttpModule,
        MessageHttpModule,
        NotificationHttpModule,
        UploadHttpModule,
      ],
      controllers: [HealthController],
      providers: [MetricsService, MetricsServer],
    };
  }
}
